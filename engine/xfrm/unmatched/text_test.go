package unmatched

import "github.com/iked/iked/notify"

func textOf(p Packet) string {
	return notify.DroppingPacket(p.IPProtocol(), p.Src.String(), p.Dst.String(), p.ProtoName(), p.SrcPort, p.DstPort).Text
}
