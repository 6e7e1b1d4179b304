package quickmode

import "fmt"

// State is where a Quick Mode exchange stands. Consume and Resume check it
// first, so a message or a result that does not fit is dropped without
// touching the exchange (RFC 2408, 5).
type State uint8

// The states name what the exchange waits for.
const (
	StateNone State = iota

	// Initiator.
	StateIStart      // generating Ni (and the PFS key), then allocating SPIs
	StateISentQM1    // QM1 sent, waiting for QM2
	StateIComputeQM2 // QM2 consumed, computing the PFS shared secret
	StateIInstalling // QM3 sent, the bundle is being installed

	// Responder.
	StateRStart      // QM1 consumed: Nr, the PFS key and secret, SPIs
	StateRSentQM2    // QM2 sent, waiting for QM3
	StateRInstalling // QM3 consumed, the bundle is being installed

	// StateEstablished: the SA bundle is installed.
	StateEstablished
	// StateFailed: the negotiation failed.
	StateFailed
)

var stateNames = [...]string{
	StateNone:        "NONE",
	StateIStart:      "QM_I_START",
	StateISentQM1:    "QM_I_SENT_QM1",
	StateIComputeQM2: "QM_I_COMPUTE_QM2",
	StateIInstalling: "QM_I_INSTALLING",
	StateRStart:      "QM_R_START",
	StateRSentQM2:    "QM_R_SENT_QM2",
	StateRInstalling: "QM_R_INSTALLING",
	StateEstablished: "QM_ESTABLISHED",
	StateFailed:      "QM_FAILED",
}

// String returns the state's name as ikectl list-sas shows it.
func (s State) String() string {
	if int(s) < len(stateNames) && stateNames[s] != "" {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}
