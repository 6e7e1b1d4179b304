package engine

import (
	"fmt"
	"net/netip"
)

// RequestType numbers the requests the daemon sends the engine; message 68
// and 70 print it as `type=n`.
type RequestType uint8

const (
	ReqAllocSPI RequestType = iota + 1
	ReqInstall
	ReqDelete
	ReqInstallPolicies
	ReqRemovePolicies
	ReqAttach
	ReqDetach
)

func (t RequestType) String() string {
	switch t {
	case ReqAllocSPI:
		return "alloc-spi"
	case ReqInstall:
		return "install"
	case ReqDelete:
		return "delete"
	case ReqInstallPolicies:
		return "install-policies"
	case ReqRemovePolicies:
		return "remove-policies"
	case ReqAttach:
		return "attach"
	case ReqDetach:
		return "detach"
	}
	return fmt.Sprintf("RequestType(%d)", uint8(t))
}

// Request is one entry of the daemon-to-engine queue.
type Request interface {
	Type() RequestType
	// Len is the entry's size in bytes, printed by messages 68 and 70: the
	// size of the XFRM netlink messages it becomes (kernel ABI sizes), so
	// that an operator sees how much work was dropped.
	Len() int
	// Important entries change or withdraw kernel state that the peer
	// already relies on (SAs, policies); ordinary ones (SPI allocation) are
	// retried by the negotiation itself, so they yield when the queue is full.
	Important() bool
	// ID is the daemon's token, returned in the Event that answers.
	ID() uint64
}

// Sizes of XFRM netlink structures (linux/xfrm.h), for Len.
const (
	sizeNlmsghdr     = 16
	sizeRtattr       = 4
	sizeUsersaInfo   = 224
	sizeUserspiInfo  = 232
	sizeUsersaID     = 24
	sizeAlgo         = 68
	sizeAlgoAuth     = 72
	sizeAlgoAEAD     = 72
	sizeEncapTmpl    = 24
	sizeUserpolicy   = 168
	sizeUserpolicyID = 64
	sizeUserTmpl     = 64
)

func align4(n int) int { return (n + 3) &^ 3 }

// AllocSPI asks for an inbound SPI of Protocol between Min and Max (0 and 0:
// 256 up to the protocol's maximum) for SAs from Src (the peer) to Dst (us).
type AllocSPI struct {
	Token    uint64
	Protocol Protocol
	Src, Dst netip.Addr
	Min, Max uint32
	ReqID    uint32
}

func (r *AllocSPI) Type() RequestType { return ReqAllocSPI }
func (r *AllocSPI) Len() int          { return sizeNlmsghdr + sizeUserspiInfo }
func (r *AllocSPI) Important() bool   { return false }
func (r *AllocSPI) ID() uint64        { return r.Token }

// Range returns the SPI range to allocate in: RFC 4303, 2.1 reserves 1-255,
// and an IPComp CPI has 16 bits (RFC 3173, 3.3).
func (r *AllocSPI) Range() (lo, hi uint32, err error) {
	lo, hi = r.Min, r.Max
	top := uint32(0xffffffff)
	if r.Protocol == ProtoIPComp {
		top = 0xffff
	}
	if lo == 0 && hi == 0 {
		hi = top
	}
	lo = max(lo, 256)
	if hi > top || lo > hi {
		return 0, 0, fmt.Errorf("engine: empty SPI range %d-%d for %s", r.Min, r.Max, r.Protocol)
	}
	return lo, hi, nil
}

// Install installs a negotiated bundle, both directions, atomically.
type Install struct {
	Token  uint64
	Bundle *Bundle
}

func (r *Install) Type() RequestType { return ReqInstall }
func (r *Install) Important() bool   { return true }
func (r *Install) ID() uint64        { return r.Token }
func (r *Install) Len() int {
	if r.Bundle == nil {
		return sizeNlmsghdr
	}
	n := 0
	for _, s := range append(append([]SA(nil), r.Bundle.Inbound...), r.Bundle.Outbound...) {
		n += sizeNlmsghdr + sizeUsersaInfo
		if c := s.Encryption; c != nil {
			if c.AEAD() {
				n += align4(sizeRtattr + sizeAlgoAEAD + len(c.Key))
			} else {
				n += align4(sizeRtattr + sizeAlgo + len(c.Key))
			}
		}
		if a := s.Integrity; a != nil {
			n += align4(sizeRtattr + sizeAlgoAuth + len(a.Key))
		}
		if s.Compression != nil {
			n += sizeRtattr + sizeAlgo
		}
		if r.Bundle.Encap != nil && s.Protocol == ProtoESP {
			n += sizeRtattr + sizeEncapTmpl
		}
	}
	return n
}

// Delete removes installed SAs (a peer's Delete, a rekeyed bundle).
type Delete struct {
	Token uint64
	SAs   []SARef
}

func (r *Delete) Type() RequestType { return ReqDelete }
func (r *Delete) Len() int          { return len(r.SAs) * (sizeNlmsghdr + sizeUsersaID) }
func (r *Delete) Important() bool   { return true }
func (r *Delete) ID() uint64        { return r.Token }

// InstallPolicies installs kernel policies, all or none.
type InstallPolicies struct {
	Token    uint64
	Policies []Policy
}

func (r *InstallPolicies) Type() RequestType { return ReqInstallPolicies }
func (r *InstallPolicies) Len() int          { return policiesLen(r.Policies, true) }
func (r *InstallPolicies) Important() bool   { return true }
func (r *InstallPolicies) ID() uint64        { return r.Token }

// RemovePolicies removes kernel policies.
type RemovePolicies struct {
	Token    uint64
	Policies []Policy
}

func (r *RemovePolicies) Type() RequestType { return ReqRemovePolicies }
func (r *RemovePolicies) Len() int          { return policiesLen(r.Policies, false) }
func (r *RemovePolicies) Important() bool   { return true }
func (r *RemovePolicies) ID() uint64        { return r.Token }

// Attach installs the policies of the running policy file and, once they
// are in, logs message 2: IPsec now protects traffic.
type Attach struct {
	Token    uint64
	Policies []Policy
}

func (r *Attach) Type() RequestType { return ReqAttach }
func (r *Attach) Len() int          { return policiesLen(r.Policies, true) }
func (r *Attach) Important() bool   { return true }
func (r *Attach) ID() uint64        { return r.Token }

// Detach removes every policy and SA the engine installed and logs
// message 3 (shutdown, or the policy withdrawn).
type Detach struct {
	Token uint64
}

func (r *Detach) Type() RequestType { return ReqDetach }
func (r *Detach) Len() int          { return sizeNlmsghdr }
func (r *Detach) Important() bool   { return true }
func (r *Detach) ID() uint64        { return r.Token }

func policiesLen(ps []Policy, withTmpl bool) int {
	n := 0
	for _, p := range ps {
		if withTmpl {
			n += sizeNlmsghdr + sizeUserpolicy + sizeRtattr + len(p.Protocols)*sizeUserTmpl
		} else {
			n += sizeNlmsghdr + sizeUserpolicyID
		}
	}
	return n
}
