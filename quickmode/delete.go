package quickmode

import (
	"go.uber.org/zap"

	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/phase1"
)

// Deletes of IPsec SAs travel in protected informational exchanges (RFC
// 2408, 3.15; RFC 2409, 5.7), built with phase1's codec. The SPI in a
// Delete is the one its receiver uses as outbound: ours, the inbound one
// (RFC 2408, 3.15: "the SPI(s) of the SA(s) to be deleted ... as the
// sender of the Delete knows it").

// deletePayloads returns one Delete payload per protocol of the SAs.
func deletePayloads(sas []ChildSA) []isakmp.Payload {
	var ps []isakmp.Payload
	byProto := map[isakmp.ProtocolID][]uint32{}
	var order []isakmp.ProtocolID
	for _, s := range sas {
		if _, ok := byProto[s.Protocol]; !ok {
			order = append(order, s.Protocol)
		}
		byProto[s.Protocol] = append(byProto[s.Protocol], s.SPIIn)
	}
	for _, p := range order {
		spis := byProto[p]
		for len(spis) > 0 {
			n := min(len(spis), isakmp.MaxDeleteSPIs)
			if d, err := phase1.DeleteIPsec(p, spis[:n]...); err == nil {
				ps = append(ps, d)
			}
			spis = spis[n:]
		}
	}
	return ps
}

// deleteMessage is the Delete of this exchange's SAs (after the engine
// refused them, the peer must not keep its half).
func (x *Exchange) deleteMessage(env Env) ([]byte, error) {
	k, ok := x.P1.InfoKeys()
	if !ok {
		return nil, phase1.ErrInfoNotKeyed
	}
	var sas []ChildSA
	for _, p := range x.Chosen.Protos {
		sas = append(sas, ChildSA{Protocol: p.Protocol, SPIIn: p.SPIIn, SPIOut: p.SPIOut})
	}
	mid, err := isakmp.NewMessageID(env.Rand, nil)
	if err != nil {
		return nil, err
	}
	return phase1.SealInformational(k, mid, deletePayloads(sas))
}

// connectedMessage is the CONNECTED notify (RFC 2408, 3.14.1 and 3.1) the
// responder sends when the initiator set the commit bit: protocol and SPI
// of the first SA of the bundle, in a protected informational exchange.
func (x *Exchange) connectedMessage(env Env) ([]byte, error) {
	k, ok := x.P1.InfoKeys()
	if !ok {
		return nil, phase1.ErrInfoNotKeyed
	}
	p := x.Chosen.Protos[0]
	n := &isakmp.Notification{DOI: isakmp.DOIIPsec, Protocol: p.Protocol, SPI: spiBytes(p.Protocol, p.SPIOut),
		NotifyType: isakmp.Connected}
	mid, err := isakmp.NewMessageID(env.Rand, nil)
	if err != nil {
		return nil, err
	}
	return phase1.SealInformational(k, mid, []isakmp.Payload{n})
}

// DeleteChildren builds the protected informational message that deletes
// the given bundles of an ISAKMP SA, and when withISAKMP is set the ISAKMP
// SA itself, as strongSwan does when a connection is terminated.
func DeleteChildren(p1 *phase1.SA, mid uint32, children []*Child, withISAKMP bool) ([]byte, error) {
	k, ok := p1.InfoKeys()
	if !ok {
		return nil, phase1.ErrInfoNotKeyed
	}
	return phase1.SealInformational(k, mid, childDeletes(&k, children, withISAKMP))
}

// childDeletes returns the Delete payloads of DeleteChildren.
func childDeletes(k *phase1.InfoKeys, children []*Child, withISAKMP bool) []isakmp.Payload {
	var sas []ChildSA
	for _, c := range children {
		sas = append(sas, c.SAs...)
	}
	// The ISAKMP SA's Delete goes first: strongSwan 5.9 acts on the
	// first Delete payload of an informational only (ikev1/tasks/
	// informational.c), and deleting the ISAKMP SA takes its CHILD_SAs
	// with it there; peers that read every payload delete each SA.
	var ps []isakmp.Payload
	if withISAKMP {
		ps = append(ps, k.DeleteISAKMP())
	}
	ps = append(ps, deletePayloads(sas)...)
	if len(ps) > 16 {
		ps = ps[:16]
	}
	return ps
}

func msgIDField(mid uint32) zap.Field { return zap.Uint32("message-id", mid) }
func reasonField(r string) zap.Field  { return zap.String("reason", r) }
func errField(err error) zap.Field    { return zap.Error(err) }
