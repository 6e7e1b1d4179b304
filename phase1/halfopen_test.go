package phase1

import (
	"fmt"
	"testing"

	"github.com/iked/iked/isakmp"
)

// TestUndecryptable: which refusals of a protected informational say that
// it did not decrypt into a message our keys vouch for (message 46 on a
// half-open SA) and which refuse it for what it is.
func TestUndecryptable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{ErrInfoHash, true},
		{ErrInfoNoHash, true},
		{fmt.Errorf("payload 1 (N): %w: generic payload header", isakmp.ErrReservedNotZero), true},
		{isakmp.ErrCiphertextLength, true},
		{fmt.Errorf("%w: more than 8", ErrInfoPayload), false},
		{ErrInfoEmpty, false},
		{ErrInfoUnprotected, false},
		{ErrInfoNotKeyed, false},
		{ErrInfoCookies, false},
		{ErrInfoMessageID, false},
		{fmt.Errorf("%w: Aggressive", ErrInfoNotInformational), false},
	} {
		if got := undecryptable(c.err); got != c.want {
			t.Errorf("undecryptable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestStuckReason: the reason of message 46 for an expired half-open SA
// names what it waited for.
func TestStuckReason(t *testing.T) {
	for st, want := range map[State]string{
		StateMMRSentSA:      "timeout waiting for MM3",
		StateMMRSentKE:      "timeout waiting for MM5",
		StateAMRSentSA:      "timeout waiting for AM3",
		StateMMRComputeAuth: "timeout in state MM_R_COMPUTE_AUTH",
	} {
		if got := stuckReason(st); got != want {
			t.Errorf("stuckReason(%v) = %q, want %q", st, got, want)
		}
	}
}
