package quickmode

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/policymgr"
)

// ProtoSA is one protocol of the negotiated proposal: the transform both
// sides agreed on and the two SPIs (RFC 2408, 4.2: each side chooses the SPI
// it receives on).
type ProtoSA struct {
	Protocol  isakmp.ProtocolID
	Transform policymgr.IPsecTransform
	Attrs     Attrs
	// Wire is the chosen transform as the initiator proposed it; the
	// responder echoes it.
	Wire *isakmp.Transform
	// SPIIn is ours (the peer sends to it); SPIOut the peer's. An IPComp
	// CPI is 16 bits.
	SPIIn, SPIOut uint32
}

// Chosen is the negotiated proposal: a chain of protocols applied together
// (RFC 2408, 4.2: proposals with the same number form a logical AND).
type Chosen struct {
	Number uint8
	Protos []*ProtoSA
}

// spiSize is the SPI length of a protocol in proposals, notifies and
// deletes: 4 for AH and ESP, 2 for an IPComp CPI (RFC 2407, 4.4.1).
func spiSize(p isakmp.ProtocolID) int {
	if p == isakmp.ProtoIPCOMP {
		return 2
	}
	return 4
}

func spiBytes(p isakmp.ProtocolID, spi uint32) []byte {
	if spiSize(p) == 2 {
		return binary.BigEndian.AppendUint16(nil, uint16(spi))
	}
	return binary.BigEndian.AppendUint32(nil, spi)
}

// spiOf reads a proposal's SPI: 4 bytes for AH and ESP; for IPComp the CPI
// in 2 bytes, or in 4 as some implementations send it (RFC 2407, 4.4.1).
func spiOf(p *isakmp.Proposal) (uint32, error) {
	switch {
	case len(p.SPI) == 4 && (p.Protocol != isakmp.ProtoIPCOMP || p.SPI[0]|p.SPI[1] == 0):
		spi := binary.BigEndian.Uint32(p.SPI)
		if p.Protocol != isakmp.ProtoIPCOMP && spi < 256 {
			return 0, fmt.Errorf("%w: %v SPI %d is reserved", isakmp.InvalidSPI, p.Protocol, spi)
		}
		return spi, nil
	case len(p.SPI) == 2 && p.Protocol == isakmp.ProtoIPCOMP:
		return uint32(binary.BigEndian.Uint16(p.SPI)), nil
	}
	return 0, fmt.Errorf("%w: %v SPI of %d bytes", isakmp.InvalidSPI, p.Protocol, len(p.SPI))
}

// offer builds the initiator's SA payload from the connection's proposal
// list (RFC 2408, 4.2): proposal i of the list is proposal number i+1, one
// Proposal payload per protocol of its chain, each listing the protocol's
// transforms in order of preference. spis holds our SPI per protocol, the
// same in every proposal that uses the protocol.
func offer(list *policymgr.ProposalList, spis *spiTable, a Attrs) (*isakmp.SA, error) {
	sa := &isakmp.SA{DOI: isakmp.DOIIPsec, Situation: isakmp.SitIdentityOnly}
	for i, p := range list.Proposals {
		if i >= 255 {
			break
		}
		for _, pc := range p.Protocols {
			spi, ok := spis.get(pc.Protocol)
			if !ok {
				return nil, fmt.Errorf("quickmode: no SPI for %v", pc.Protocol)
			}
			pr := &isakmp.Proposal{Number: uint8(i + 1), Protocol: pc.Protocol, SPI: spiBytes(pc.Protocol, spi)}
			for j, t := range pc.Transforms {
				if j >= isakmp.MaxTransforms {
					break
				}
				ta := a
				if pc.Protocol == isakmp.ProtoIPCOMP {
					ta.Group = 0
				}
				pr.Transforms = append(pr.Transforms, wireTransform(uint8(j+1), t, ta))
			}
			sa.Proposals = append(sa.Proposals, pr)
		}
	}
	if len(sa.Proposals) == 0 {
		return nil, fmt.Errorf("quickmode: the proposal list %q is empty", list.Name)
	}
	return sa, nil
}

// protocolsOf lists the IPsec protocols a proposal list uses, in first use.
func protocolsOf(list *policymgr.ProposalList) []isakmp.ProtocolID {
	var out []isakmp.ProtocolID
	for _, p := range list.Proposals {
		for _, pc := range p.Protocols {
			if !slices.Contains(out, pc.Protocol) {
				out = append(out, pc.Protocol)
			}
		}
	}
	return out
}

// chains groups an SA payload's proposals by number: consecutive proposals
// with the same number are one chain (RFC 2408, 4.2).
// Each chain is a part of sa.Proposals (capped), not a copy.
func chains(sa *isakmp.SA) [][]*isakmp.Proposal {
	var out [][]*isakmp.Proposal
	start := 0
	for i, p := range sa.Proposals {
		if n := len(out); n > 0 && out[n-1][0].Number == p.Number {
			out[n-1] = sa.Proposals[start : i+1 : i+1]
			continue
		}
		start = i
		out = append(out, sa.Proposals[i:i+1:i+1])
	}
	return out
}

// Selection is what the responder needs to choose: our proposal list, the
// PFS group we require (0: none), and the encapsulation modes we accept.
type Selection struct {
	List   *policymgr.ProposalList
	Group  isakmp.GroupDescription
	Encaps []isakmp.EncapsulationMode
}

// choose is the responder's proposal choice (RFC 2408, 4.2: "the
// responder MUST select a single proposal"): the first of the initiator's
// chains that one of our proposals accepts, protocol for protocol, taking
// for each protocol the initiator's first transform we accept. It returns
// the reason for the debug log when nothing fits.
func choose(sa *isakmp.SA, sel Selection) (*Chosen, string) {
	var why []string
	for _, ch := range chains(sa) {
		c, reason := chooseChain(ch, sel)
		if c != nil {
			return c, ""
		}
		why = append(why, fmt.Sprintf("proposal %d: %s", ch[0].Number, reason))
	}
	return nil, strings.Join(why, "; ")
}

func chooseChain(ch []*isakmp.Proposal, sel Selection) (*Chosen, string) {
	var buf [3]isakmp.ProtocolID
	peerProtos := buf[:0]
	for _, p := range ch {
		if slices.Contains(peerProtos, p.Protocol) {
			return nil, fmt.Sprintf("%v twice in one chain", p.Protocol)
		}
		peerProtos = append(peerProtos, p.Protocol)
	}
	// The reason is made only when no proposal fits (a chosen chain
	// needs none).
	reason, transformReason := "", false
	for _, ours := range sel.List.Proposals {
		if len(ours.Protocols) != len(ch) {
			continue
		}
		c := &Chosen{Number: ch[0].Number}
		ok := true
		for _, p := range ch {
			i := slices.IndexFunc(ours.Protocols, func(pc policymgr.ProtocolChoice) bool { return pc.Protocol == p.Protocol })
			if i < 0 {
				ok = false
				break
			}
			ps, r := chooseTransform(p, ours.Protocols[i], sel)
			if ps == nil {
				ok, reason, transformReason = false, r, true
				break
			}
			c.Protos = append(c.Protos, ps)
		}
		if ok {
			return c, ""
		}
	}
	if !transformReason {
		reason = "no proposal of ours has the protocols " + protoList(peerProtos)
	}
	return nil, reason
}

func chooseTransform(p *isakmp.Proposal, pc policymgr.ProtocolChoice, sel Selection) (*ProtoSA, string) {
	spi, err := spiOf(p)
	if err != nil {
		return nil, err.Error()
	}
	group := sel.Group
	if p.Protocol == isakmp.ProtoIPCOMP {
		group = 0
	}
	var offered []string
	for _, t := range p.Transforms {
		a, err := parseAttrs(t)
		if err != nil {
			offered = append(offered, describe(p.Protocol, t))
			continue
		}
		for _, ours := range pc.Transforms {
			if matchTransform(p.Protocol, t.ID, a, ours, group, sel.Encaps) {
				return &ProtoSA{Protocol: p.Protocol, Transform: ours, Attrs: a, Wire: t, SPIOut: spi}, ""
			}
		}
		offered = append(offered, describe(p.Protocol, t))
	}
	var want []string
	for _, t := range pc.Transforms {
		want = append(want, t.String())
	}
	return nil, fmt.Sprintf("%v: peer offered %s; we accept %s with PFS %v", p.Protocol,
		strings.Join(offered, ", "), strings.Join(want, ", "), group)
}

func protoList(ps []isakmp.ProtocolID) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.String())
	}
	return strings.Join(s, "+")
}

// ipcompFallback reports whether the responder's second chain repeats its
// first without IPComp: strongSwan's IKEv1 SA payload with a CPI adds the
// proposal again, numbered one higher, without the IPCOMP proposal (for an
// initiator that turns IPComp down), and its Quick Mode responder answers
// with that same payload (sa_payload.c and quick_mode.c in strongswan/
// strongswan, src/libcharon). The first chain is the choice.
func ipcompFallback(first, second []*isakmp.Proposal) bool {
	var rest []*isakmp.Proposal
	comp := false
	for _, p := range first {
		if p.Protocol == isakmp.ProtoIPCOMP {
			comp = true
			continue
		}
		rest = append(rest, p)
	}
	if !comp || len(rest) != len(second) || second[0].Number == first[0].Number {
		return false
	}
	for i, p := range rest {
		q := second[i]
		if p.Protocol != q.Protocol || !bytes.Equal(p.SPI, q.SPI) || len(p.Transforms) != len(q.Transforms) {
			return false
		}
		for j, t := range p.Transforms {
			if t.ID != q.Transforms[j].ID {
				return false
			}
		}
	}
	return true
}

// accept checks the responder's SA payload against what we offered (RFC
// 2408, 4.2: one proposal, one transform per protocol, from our offer) and
// returns the negotiated proposal with the responder's SPIs.
func accept(answer *isakmp.SA, list *policymgr.ProposalList, ourSPIs *spiTable, a Attrs) (*Chosen, error) {
	cs := chains(answer)
	if len(cs) == 2 && ipcompFallback(cs[0], cs[1]) {
		cs = cs[:1]
	}
	if len(cs) != 1 {
		return nil, fmt.Errorf("%w: the responder chose %d proposals", isakmp.BadProposalSyntax, len(cs))
	}
	ch := cs[0]
	n := int(ch[0].Number)
	if n < 1 || n > len(list.Proposals) {
		return nil, fmt.Errorf("%w: the responder chose proposal %d, we offered %d", isakmp.BadProposalSyntax, n, len(list.Proposals))
	}
	ours := list.Proposals[n-1]
	if len(ours.Protocols) != len(ch) {
		return nil, fmt.Errorf("%w: the responder's proposal %d has %d protocols, ours %d", isakmp.BadProposalSyntax, n, len(ch), len(ours.Protocols))
	}
	c := &Chosen{Number: uint8(n)}
	for _, p := range ch {
		i := slices.IndexFunc(ours.Protocols, func(pc policymgr.ProtocolChoice) bool { return pc.Protocol == p.Protocol })
		if i < 0 || slices.ContainsFunc(c.Protos, func(x *ProtoSA) bool { return x.Protocol == p.Protocol }) {
			return nil, fmt.Errorf("%w: the responder answered %v, not in our proposal %d", isakmp.BadProposalSyntax, p.Protocol, n)
		}
		if len(p.Transforms) != 1 {
			return nil, fmt.Errorf("%w: the responder chose %d transforms for %v", isakmp.BadProposalSyntax, len(p.Transforms), p.Protocol)
		}
		spi, err := spiOf(p)
		if err != nil {
			return nil, err
		}
		t := p.Transforms[0]
		ta, err := parseAttrs(t)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", isakmp.AttributesNotSupported, err)
		}
		group, encaps := a.Group, []isakmp.EncapsulationMode{a.Encap}
		if p.Protocol == isakmp.ProtoIPCOMP {
			group = 0
		}
		var got *ProtoSA
		for _, ours := range ours.Protocols[i].Transforms {
			if matchTransform(p.Protocol, t.ID, ta, ours, group, encaps) {
				ourSPI, _ := ourSPIs.get(p.Protocol)
				got = &ProtoSA{Protocol: p.Protocol, Transform: ours, Attrs: ta, Wire: t, SPIIn: ourSPI, SPIOut: spi}
				break
			}
		}
		if got == nil {
			return nil, fmt.Errorf("%w: the responder chose %s, which we did not offer", isakmp.NoProposalChosen, describe(p.Protocol, t))
		}
		c.Protos = append(c.Protos, got)
	}
	return c, nil
}
