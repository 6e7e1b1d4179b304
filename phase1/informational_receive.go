package phase1

import (
	"bytes"
	"encoding/binary"
	"net/netip"

	"go.uber.org/zap"

	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
)

// SARef names an IPsec SA (or another ISAKMP SA) the peer asked to delete.
type SARef struct {
	Protocol isakmp.ProtocolID
	SPI      []byte
}

// InfoOutcome is what a received informational message asks the daemon to
// do. The decisions are here; the daemon carries them out on its tables.
type InfoOutcome struct {
	// Log are the catalog messages, in order: 48 for a notify about the
	// ISAKMP SA, 51 for an error notify (which deletes the SA), 62 for
	// each SA the peer asks to delete.
	Log []notify.Message
	// DeleteISAKMP: delete this ISAKMP SA (the peer deleted it, or sent an
	// error notify on it).
	DeleteISAKMP bool
	// Delete lists IPsec SAs (ESP/AH/IPComp SPIs, as the peer sent them:
	// our inbound SPIs) and other ISAKMP SAs (16-byte cookies) to delete.
	Delete []SARef
	// InitialContact: the peer has just rebooted or reconnected (RFC 2407,
	// 4.6.3.3): delete every other SA with this peer's identity.
	InitialContact bool
	// RUThere: the peer asked whether we are alive (RFC 3706, 5); answer
	// with R-U-THERE-ACK carrying RUThereSeq.
	RUThere    bool
	RUThereSeq uint32
	// RUThereAck: the peer answered our R-U-THERE with AckSeq.
	RUThereAck bool
	AckSeq     uint32
	// Ignored counts notifies and deletes that were malformed for their
	// kind (a DPD notify without its 4-byte sequence number, an SPI of the
	// wrong size) and were dropped.
	Ignored int
}

// protocolName is the protocol word of message 62.
func protocolName(p isakmp.ProtocolID) string {
	switch p {
	case isakmp.ProtoISAKMP:
		return "ISAKMP"
	case isakmp.ProtoAH:
		return "AH"
	case isakmp.ProtoESP:
		return "ESP"
	case isakmp.ProtoIPCOMP:
		return "IPCOMP"
	}
	return p.String()
}

// ReceiveInformational decides what an informational message from peer on
// the ISAKMP SA with cookies iCookie/rCookie means (RFC 2408, 4.8 and 5.15;
// RFC 2409, 5.7; RFC 2407, 4.6.3; RFC 3706). An unprotected message
// (phase 1 not keyed) can only refuse the negotiation: its deletes and
// status notifies are not acted on, since anyone could have sent them
// (RFC 2408, 5.15: an unauthenticated delete is ignored).
func ReceiveInformational(inf *Informational, iCookie, rCookie [8]byte, peer netip.AddrPort) InfoOutcome {
	var o InfoOutcome
	cookies := cookieSPI(iCookie, rCookie)
	for _, n := range inf.Notifies {
		switch {
		case n.NotifyType.IsError():
			o.Log = append(o.Log, phase1NotifyMessage(n, peer))
			if !o.DeleteISAKMP {
				o.Log = append(o.Log, notify.ReceivedErrorNotify(peer, n.NotifyType.String()))
			}
			o.DeleteISAKMP = true
		case !inf.Protected:
			o.Ignored++
		case n.NotifyType == isakmp.DPDRUThere || n.NotifyType == isakmp.DPDRUThereAck:
			seq, ok := dpdSeq(n, cookies)
			if !ok {
				o.Ignored++
				continue
			}
			if n.NotifyType == isakmp.DPDRUThere {
				o.RUThere, o.RUThereSeq = true, seq
			} else {
				o.RUThereAck, o.AckSeq = true, seq
			}
		case n.NotifyType == isakmp.InitialContact:
			o.Log = append(o.Log, phase1NotifyMessage(n, peer))
			o.InitialContact = true
		default:
			// Other status notifies (RESPONDER-LIFETIME, REPLAY-STATUS on
			// an ISAKMP SA) are logged and need nothing else here.
			o.Log = append(o.Log, phase1NotifyMessage(n, peer))
		}
	}
	if !inf.Protected {
		o.Ignored += len(inf.Deletes)
		return o
	}
	for _, d := range inf.Deletes {
		for _, spi := range d.SPIs {
			switch {
			case d.Protocol == isakmp.ProtoISAKMP && len(spi) == 16:
				o.Log = append(o.Log, notify.DeleteRequested(protocolName(d.Protocol), spi))
				if bytes.Equal(spi, cookies) {
					o.DeleteISAKMP = true
				} else {
					o.Delete = append(o.Delete, SARef{d.Protocol, bytes.Clone(spi)})
				}
			case (d.Protocol == isakmp.ProtoESP || d.Protocol == isakmp.ProtoAH || d.Protocol == isakmp.ProtoIPCOMP) && len(spi) == 4:
				o.Log = append(o.Log, notify.DeleteRequested(protocolName(d.Protocol), spi))
				o.Delete = append(o.Delete, SARef{d.Protocol, bytes.Clone(spi)})
			default:
				o.Ignored++
			}
		}
	}
	return o
}

// phase1NotifyMessage is message 48 for a notify the peer sent.
func phase1NotifyMessage(n *isakmp.Notification, peer netip.AddrPort) notify.Message {
	return notify.Phase1Notify(n.NotifyType.String(), len(n.Data), peer.Addr().Unmap().String(),
		int(peer.Port()), int(n.Protocol), n.SPI)
}

// dpdSeq checks a DPD notify (RFC 3706, 5): protocol ISAKMP, the SPI the
// two cookies (strongSwan and racoon send them; an empty SPI is accepted
// as some implementations send it), and a 4-byte sequence number as data.
func dpdSeq(n *isakmp.Notification, cookies []byte) (uint32, bool) {
	if n.Protocol != isakmp.ProtoISAKMP || len(n.Data) != 4 {
		return 0, false
	}
	if len(n.SPI) != 0 && !bytes.Equal(n.SPI, cookies) {
		return 0, false
	}
	return binary.BigEndian.Uint32(n.Data), true
}

// SendingLog is message 52 for a notify or delete iked sends to peer
// because it refuses or changes a negotiation.
func SendingLog(peer netip.AddrPort, what string) notify.Message {
	return notify.SendingNotification(peer, what)
}

// LogDelete writes the info line of a Delete iked sends because SAs end
// in the ordinary way (terminate, shutdown, a lifetime, a
// reauthentication): the SAs as message 62 names them, protocol[spi]. It
// is not message 52, which is for notifications that refuse or change a
// negotiation.
func LogDelete(log *notify.Logger, peer netip.AddrPort, ps []isakmp.Payload) {
	if log == nil {
		return
	}
	var sas []string
	for _, p := range ps {
		if d, ok := p.(*isakmp.Delete); ok {
			for _, spi := range d.SPIs {
				sas = append(sas, notify.SAName(protocolName(d.Protocol), spi))
			}
		}
	}
	log.Info("sending Delete", zap.String("peer", notify.RemoteAddress(peer)), zap.Strings("sas", sas))
}
