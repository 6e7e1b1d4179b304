package phase1

import (
	"bytes"
	"testing"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/policymgr"
)

// TestXAuthAuthMethod: a connection with ike.xauth proposes and accepts
// the XAUTH method over its own (draft-beaulieu-ike-xauth-02, 3.3): Init
// when the phase 1 initiator is the XAUTH client, as strongSwan and Cisco
// clients propose; phase 1 itself authenticates as the base method.
func TestXAuthAuthMethod(t *testing.T) {
	for _, tc := range []struct {
		x    policymgr.XAuthRole
		base isakmp.AuthMethod
		role daemon.Role
		want isakmp.AuthMethod
	}{
		{policymgr.XAuthRoleNone, isakmp.AuthPSK, daemon.RoleInitiator, isakmp.AuthPSK},
		{policymgr.XAuthClient, isakmp.AuthPSK, daemon.RoleInitiator, isakmp.AuthXAUTHInitPSK},
		{policymgr.XAuthServer, isakmp.AuthPSK, daemon.RoleResponder, isakmp.AuthXAUTHInitPSK},
		{policymgr.XAuthServer, isakmp.AuthPSK, daemon.RoleInitiator, isakmp.AuthXAUTHRespPSK},
		{policymgr.XAuthClient, isakmp.AuthPSK, daemon.RoleResponder, isakmp.AuthXAUTHRespPSK},
		{policymgr.XAuthClient, isakmp.AuthRSASig, daemon.RoleInitiator, isakmp.AuthXAUTHInitRSA},
		{policymgr.XAuthServer, isakmp.AuthRSASig, daemon.RoleInitiator, isakmp.AuthXAUTHRespRSA},
		{policymgr.XAuthServer, isakmp.AuthECDSA256, daemon.RoleResponder, isakmp.AuthECDSA256},
	} {
		c := &policymgr.Connection{IKE: &policymgr.Phase1{AuthMethod: tc.base, XAuth: tc.x}}
		got := authMethod(c, tc.role)
		if got != tc.want {
			t.Errorf("%v %v as %v: %v, want %v", tc.x, tc.base, tc.role, got, tc.want)
		}
		if got.Base() != tc.base {
			t.Errorf("%v.Base() = %v, want %v", got, got.Base(), tc.base)
		}
		s := &SA{Transform: Transform{Auth: got}}
		if s.usesSignature() != (tc.base != isakmp.AuthPSK) {
			t.Errorf("%v: usesSignature %v", got, s.usesSignature())
		}
	}
}

// TestXAuthVendorID: the XAuth Vendor ID goes first for a connection with
// ike.xauth, and is recognised in a peer's message.
func TestXAuthVendorID(t *testing.T) {
	vids := OurVendorIDs(VendorIDOptions{XAuth: true, DPD: true})
	if len(vids) != 2 || !bytes.Equal(vids[0], vidXAuth) {
		t.Fatalf("vendor IDs %x", vids)
	}
	if len(OurVendorIDs(VendorIDOptions{DPD: true})) != 1 {
		t.Error("XAuth Vendor ID sent without ike.xauth")
	}
	if !PeerExtensions(vids).XAuth {
		t.Error("XAuth Vendor ID not recognised")
	}
}
