//go:build !(cgo && linux)

package pam_test

import (
	"errors"
	"testing"

	"github.com/iked/iked/policymgr"
	"github.com/iked/iked/xauth"
	"github.com/iked/iked/xauth/pam"
)

// TestNotBuilt: without cgo, the PAM backend says so.
func TestNotBuilt(t *testing.T) {
	_, err := xauth.Open(policymgr.XAuth{Backend: policymgr.XAuthPAM, PAM: policymgr.PAM{Service: "iked"}})
	if !errors.Is(err, pam.ErrNotBuilt) {
		t.Fatalf("%v", err)
	}
	t.Log(err)
}
