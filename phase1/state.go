package phase1

import "fmt"

// State is where an ISAKMP SA's phase 1 exchange stands. Each consume
// method checks it first, so that a message that arrives out of order is
// dropped without touching the SA (RFC 2408, 5: a message that does not fit
// the exchange is discarded).
type State uint8

// The states name the last message sent or received. "Computing" states
// wait for a Work result; the daemon drops messages meanwhile.
const (
	StateNone State = iota

	// Main Mode initiator (RFC 2409, 5).
	StateMMISentSA      // MM1 sent, waiting for MM2
	StateMMIComputeKE   // MM2 consumed, generating our DH key
	StateMMISentKE      // MM3 sent, waiting for MM4
	StateMMIComputeAuth // MM4 consumed, shared secret and HASH_I/SIG_I
	StateMMISentAuth    // MM5 sent, waiting for MM6
	StateMMIVerify      // MM6 consumed, verifying SIG_R

	// Main Mode responder.
	StateMMRSentSA      // MM1 consumed, MM2 sent, waiting for MM3
	StateMMRComputeKE   // MM3 consumed, DH and keys
	StateMMRSentKE      // MM4 sent, waiting for MM5
	StateMMRComputeAuth // MM5 consumed, verifying SIG_I / signing SIG_R

	// Aggressive Mode initiator.
	StateAMIComputeKE   // generating our DH key for AM1
	StateAMISentSA      // AM1 sent, waiting for AM2
	StateAMIComputeAuth // AM2 consumed, shared secret, verify, HASH_I/SIG_I

	// Aggressive Mode responder.
	StateAMRComputeAuth // AM1 consumed, DH, keys, HASH_R/SIG_R
	StateAMRSentSA      // AM2 sent, waiting for AM3
	StateAMRVerify      // AM3 consumed, verifying SIG_I

	// StateEstablished: the ISAKMP SA is authenticated; phase 2 may use it.
	StateEstablished
	// StateFailed: the negotiation failed; the SA is to be deleted.
	StateFailed
	// StateDeleted: the SA was deleted and its secrets wiped.
	StateDeleted
)

var stateNames = [...]string{
	StateNone:           "NONE",
	StateMMISentSA:      "MM_I_SENT_SA",
	StateMMIComputeKE:   "MM_I_COMPUTE_KE",
	StateMMISentKE:      "MM_I_SENT_KE",
	StateMMIComputeAuth: "MM_I_COMPUTE_AUTH",
	StateMMISentAuth:    "MM_I_SENT_AUTH",
	StateMMIVerify:      "MM_I_VERIFY",
	StateMMRSentSA:      "MM_R_SENT_SA",
	StateMMRComputeKE:   "MM_R_COMPUTE_KE",
	StateMMRSentKE:      "MM_R_SENT_KE",
	StateMMRComputeAuth: "MM_R_COMPUTE_AUTH",
	StateAMIComputeKE:   "AM_I_COMPUTE_KE",
	StateAMISentSA:      "AM_I_SENT_SA",
	StateAMIComputeAuth: "AM_I_COMPUTE_AUTH",
	StateAMRComputeAuth: "AM_R_COMPUTE_AUTH",
	StateAMRSentSA:      "AM_R_SENT_SA",
	StateAMRVerify:      "AM_R_VERIFY",
	StateEstablished:    "ESTABLISHED",
	StateFailed:         "FAILED",
	StateDeleted:        "DELETED",
}

// String returns the state's name as ikectl list-sas shows it.
func (s State) String() string {
	if int(s) < len(stateNames) && stateNames[s] != "" {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}
