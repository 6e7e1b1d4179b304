package ikecrypto

import (
	"encoding/binary"
	"net/netip"
)

// NATDHash returns HASH(CKY-I | CKY-R | IP | Port) of a NAT-D payload (RFC
// 3947, 3.2) with the negotiated hash: IP is 4 bytes for IPv4, 16 for IPv6,
// port in network order. An IPv4-mapped IPv6 address is hashed as IPv4,
// since that is what went on the wire.
func NATDHash(prf PRF, ckyI, ckyR []byte, addr netip.AddrPort) []byte {
	ip := addr.Addr().Unmap().AsSlice()
	var port [2]byte
	binary.BigEndian.PutUint16(port[:], addr.Port())
	return prf.Hash(ckyI, ckyR, ip, port[:])
}
