package engine

import (
	"fmt"
	"net/netip"
)

// EventKind says what an Event reports.
type EventKind uint8

const (
	EventSPIAllocated      EventKind = iota + 1 // an AllocSPI answered: Protocol, SPI
	EventSPIFailed                              // an AllocSPI failed: Err
	EventInstalled                              // an Install went in: BundleID
	EventInstallFailed                          // an Install failed, nothing left: BundleID, Err
	EventDeleted                                // a Delete removed its SAs
	EventDeleteFailed                           // a Delete failed for some SA: Err
	EventPoliciesInstalled                      // InstallPolicies went in
	EventPoliciesFailed                         // InstallPolicies failed, none left: Err
	EventPoliciesRemoved                        // RemovePolicies done (Err if some were absent)
	EventAttached                               // Attach done: message 2 logged
	EventDetached                               // Detach done: message 3 logged
	EventAcquire                                // the kernel wants an SA (on-demand initiation): Acquire
	EventExpireSoft                             // an SA reached its soft lifetime: rekey; Expire
	EventExpireHard                             // an SA reached its hard lifetime and is gone; Expire
	EventBackendError                           // the backend's kernel monitor failed: Err
)

func (k EventKind) String() string {
	switch k {
	case EventSPIAllocated:
		return "spi-allocated"
	case EventSPIFailed:
		return "spi-failed"
	case EventInstalled:
		return "installed"
	case EventInstallFailed:
		return "install-failed"
	case EventDeleted:
		return "deleted"
	case EventDeleteFailed:
		return "delete-failed"
	case EventPoliciesInstalled:
		return "policies-installed"
	case EventPoliciesFailed:
		return "policies-failed"
	case EventPoliciesRemoved:
		return "policies-removed"
	case EventAttached:
		return "attached"
	case EventDetached:
		return "detached"
	case EventAcquire:
		return "acquire"
	case EventExpireSoft:
		return "expire-soft"
	case EventExpireHard:
		return "expire-hard"
	case EventBackendError:
		return "backend-error"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is the engine's answer to a Request (same Token) or a report the
// kernel volunteered (Token 0): the daemon's loop receives it from
// Engine.Events.
type Event struct {
	Kind     EventKind
	Token    uint64
	BundleID uint32
	Protocol Protocol
	SPI      uint32
	Err      error
	Acquire  *Acquire
	Expire   *Expire
}

func (e Event) String() string {
	s := fmt.Sprintf("%s token=%d", e.Kind, e.Token)
	if e.SPI != 0 {
		s += fmt.Sprintf(" %s[0x%08x]", e.Protocol, e.SPI)
	}
	if e.BundleID != 0 {
		s += fmt.Sprintf(" bundle=%d", e.BundleID)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Acquire is the kernel asking for an SA: a packet matched an outbound
// policy with no SA (RFC 4301, 5.2 / XFRM_MSG_ACQUIRE).
type Acquire struct {
	Selector Selector   // the packet's own addresses and ports (Local = its source)
	Local    netip.Addr // the template's endpoints: who must negotiate
	Remote   netip.Addr
	Protocol Protocol
	Mode     Mode
	ReqID    uint32
	Seq      uint32 // the kernel's acquire sequence number
	Policy   Policy // the policy that matched, as the kernel has it
}

// Expire reports an SA's soft or hard lifetime (XFRM_MSG_EXPIRE).
type Expire struct {
	SA    SARef
	ReqID uint32
	Hard  bool
}
