package transaction

import (
	"bytes"
	"errors"
	"testing"

	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/phase1"
)

// testKeys are fixed ISAKMP SA keys (AES-128-CBC, HMAC-SHA2-256).
func testKeys(t testing.TB) phase1.InfoKeys {
	prf, err := ikecrypto.NewPRF(ikecrypto.HashSHA2_256)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ikecrypto.NewCipher(ikecrypto.EncryptionAES, 128, bytes.Repeat([]byte{7}, 16))
	if err != nil {
		t.Fatal(err)
	}
	return phase1.InfoKeys{ICookie: [8]byte{1}, RCookie: [8]byte{2}, PRF: prf, SKEYIDa: bytes.Repeat([]byte{9}, 32),
		Cipher: c, LastBlock: bytes.Repeat([]byte{3}, 16)}
}

// TestProtectionRoundTrip: what one side seals the other opens, request
// and answer chained on one IV; a flipped byte, another message ID and a
// second try after a refusal behave as RFC 2409, Appendix B wants.
func TestProtectionRoundTrip(t *testing.T) {
	k := testKeys(t)
	a, b := newProtection(k, 0x1234), newProtection(k, 0x1234)
	req := &isakmp.Attr{CfgType: isakmp.CfgRequest, Identifier: 5, Attributes: isakmp.Attributes{
		isakmp.VarAttr(isakmp.XAuthUserName, nil), isakmp.VarAttr(isakmp.XAuthUserPassword, nil)}}
	out, err := a.seal(req)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(out)
	bad[len(bad)-1] ^= 1
	if _, _, err := b.open(bad); err == nil {
		t.Fatal("a corrupted message opened")
	}
	if _, _, err := newProtection(k, 0x1235).open(out); err == nil {
		t.Fatal("a message opened under another message ID")
	}
	got, next, err := b.open(out)
	if err != nil || got.CfgType != isakmp.CfgRequest || len(got.Attributes) != 2 {
		t.Fatalf("open: %v %+v", err, got)
	}
	b.accept(next)
	reply, err := b.seal(&isakmp.Attr{CfgType: isakmp.CfgReply, Identifier: 5, Attributes: isakmp.Attributes{
		isakmp.VarAttr(isakmp.XAuthUserName, []byte("alice")), isakmp.VarAttr(isakmp.XAuthUserPassword, []byte("pw\x00"))}})
	if err != nil {
		t.Fatal(err)
	}
	got, _, err = a.open(reply)
	if err != nil {
		t.Fatalf("reply under the chained IV: %v", err)
	}
	if u, _ := textOf(got.Attributes, isakmp.XAuthUserName); u != "alice" {
		t.Errorf("user %q", u)
	}
	if p, _ := textOf(got.Attributes, isakmp.XAuthUserPassword); p != "pw" {
		t.Errorf("password %q: the trailing NUL stays", p)
	}
}

// TestAttributesRefused: an oversized value or a repeated XAUTH
// attribute is refused before anything acts on it.
func TestAttributesRefused(t *testing.T) {
	for _, as := range []isakmp.Attributes{
		{isakmp.VarAttr(isakmp.XAuthUserName, bytes.Repeat([]byte{'a'}, maxAttrData+1))},
		{isakmp.VarAttr(isakmp.XAuthUserPassword, []byte("a")), isakmp.VarAttr(isakmp.XAuthUserPassword, []byte("b"))},
	} {
		k := testKeys(t)
		out, err := newProtection(k, 9).seal(&isakmp.Attr{CfgType: isakmp.CfgReply, Attributes: as})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := newProtection(k, 9).open(out); !errors.Is(err, errAttributes) {
			t.Errorf("attributes %v: %v, want errAttributes", as, err)
		}
	}
}

// FuzzOpen: whatever arrives as a Transaction message on a keyed SA,
// open refuses it or returns an ATTR payload, and never panics.
func FuzzOpen(f *testing.F) {
	k := testKeys(f)
	for _, a := range []*isakmp.Attr{
		{CfgType: isakmp.CfgRequest, Identifier: 1, Attributes: isakmp.Attributes{isakmp.VarAttr(isakmp.XAuthUserName, nil)}},
		{CfgType: isakmp.CfgSet, Identifier: 2, Attributes: isakmp.Attributes{isakmp.BasicAttr(isakmp.XAuthStatus, isakmp.XAuthStatusOK)}},
	} {
		out, err := newProtection(k, 77).seal(a)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(out)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, _, err := newProtection(k, 77).open(b)
		if err == nil && a == nil {
			t.Fatal("no error and no ATTR payload")
		}
	})
}
