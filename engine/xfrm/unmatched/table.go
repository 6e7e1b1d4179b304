//go:build linux

package unmatched

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// TableName is the nftables table (family inet) the package owns.
const TableName = "iked"

// metaKeySecpath is NFT_META_SECPATH (include/uapi/linux/netfilter/nf_tables.h,
// after NFT_META_PRANDOM); google/nftables v0.3.0 has no name for it. It
// loads one byte, 1 when XFRM decapsulated the packet.
const metaKeySecpath expr.MetaKey = unix.NFT_META_PRANDOM + 1

// Flow is one connection's protected traffic as it arrives: from the
// remote selector to the local one. A zero range is any address (of the
// other range's family); Proto 0 any protocol, a port 0 any port.
type Flow struct {
	Name                  string
	LocalFrom, LocalTo    netip.Addr
	RemoteFrom, RemoteTo  netip.Addr
	Proto                 uint8
	LocalPort, RemotePort uint16
}

func (f Flow) is4() bool {
	if f.LocalFrom.IsValid() {
		return f.LocalFrom.Is4()
	}
	return f.RemoteFrom.Is4()
}

// install replaces the table with one that drops and logs to group the
// packets of flows that arrive without a secpath, except IKE (UDP to
// ikePorts) and the IPsec protocols themselves, which arrive in
// clear by design. The old table goes in the same batch: the swap is
// atomic.
func install(c *nftables.Conn, group uint16, ikePorts []uint16, flows []Flow) error {
	if err := remove(c); err != nil {
		return err
	}
	t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: TableName})
	for _, hook := range []struct {
		name string
		h    *nftables.ChainHook
	}{{"input", nftables.ChainHookInput}, {"forward", nftables.ChainHookForward}} {
		ch := c.AddChain(&nftables.Chain{Name: hook.name, Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: hook.h, Priority: nftables.ChainPriorityFilter})
		for _, r := range rules(group, ikePorts, flows) {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: r})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: table inet %s: %w", TableName, err)
	}
	return nil
}

// remove deletes the table if it is there (an earlier iked's, or ours).
func remove(c *nftables.Conn) error {
	ts, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return fmt.Errorf("nftables: list tables: %w", err)
	}
	for _, t := range ts {
		if t.Name == TableName {
			c.DelTable(t)
		}
	}
	return nil
}

// removeNow deletes the table at once.
func removeNow(c *nftables.Conn) error {
	if err := remove(c); err != nil {
		return err
	}
	return c.Flush()
}

func rules(group uint16, ikePorts []uint16, flows []Flow) [][]expr.Any {
	accept := &expr.Verdict{Kind: expr.VerdictAccept}
	var rs [][]expr.Any
	for _, p := range []uint8{unix.IPPROTO_ESP, unix.IPPROTO_AH, unix.IPPROTO_COMP} {
		rs = append(rs, append(l4proto(p), accept))
	}
	for _, port := range ikePorts {
		// To iked's IKE sockets only: a source port of 500 must not let
		// protected traffic through in clear.
		rs = append(rs, append(l4proto(unix.IPPROTO_UDP), append(thPort(2, port), accept)...))
	}
	for _, f := range flows {
		var r []expr.Any
		fam, src, dst := byte(unix.NFPROTO_IPV4), uint32(12), uint32(16)
		if !f.is4() {
			fam, src, dst = unix.NFPROTO_IPV6, 8, 24
		}
		r = append(r,
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{fam}},
			&expr.Meta{Key: metaKeySecpath, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0}})
		r = append(r, addrRange(src, f.RemoteFrom, f.RemoteTo)...)
		r = append(r, addrRange(dst, f.LocalFrom, f.LocalTo)...)
		if f.Proto != 0 {
			r = append(r, l4proto(f.Proto)...)
			if f.Proto == unix.IPPROTO_TCP || f.Proto == unix.IPPROTO_UDP {
				if f.RemotePort != 0 {
					r = append(r, thPort(0, f.RemotePort)...)
				}
				if f.LocalPort != 0 {
					r = append(r, thPort(2, f.LocalPort)...)
				}
			}
		}
		r = append(r, &expr.Counter{},
			&expr.Log{Key: 1 << unix.NFTA_LOG_GROUP, Group: group},
			&expr.Verdict{Kind: expr.VerdictDrop})
		rs = append(rs, r)
	}
	return rs
}

func l4proto(p uint8) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
	}
}

// thPort matches the 16-bit port at offset off of the transport header.
func thPort(off uint32, port uint16) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: off, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, port)},
	}
}

// addrRange matches the address at offset off of the network header
// against from-to; nothing for an any range.
func addrRange(off uint32, from, to netip.Addr) []expr.Any {
	if !from.IsValid() {
		return nil
	}
	n := uint32(from.BitLen() / 8)
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
		&expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: from.AsSlice(), ToData: to.AsSlice()},
	}
}
