package ikecrypto

// Protocol IDs that enter KEYMAT (RFC 2407, 4.4.1).
const (
	ProtoAH     uint8 = 2
	ProtoESP    uint8 = 3
	ProtoIPComp uint8 = 4
)

// Keymat returns n bytes of Quick Mode KEYMAT for one SA (RFC 2409, 5.5):
//
//	K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)
//	Ki+1 = prf(SKEYID_d, Ki | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)
//	KEYMAT = K1 | K2 | ...
//
// gqmxy is the PFS shared secret or nil; spi is the 4-byte SPI of the SA the
// keys are for, that is the SPI its receiver chose (so the initiator's
// outbound keys use the responder's SPI, as strongSwan does); niB and nrB
// are the Quick Mode nonce bodies.
func Keymat(prf PRF, skeyidD, gqmxy []byte, protocol uint8, spi, niB, nrB []byte, n int) []byte {
	if n <= 0 {
		return nil
	}
	proto := protocolBytes[protocol : int(protocol)+1 : int(protocol)+1]
	size := prf.Size()
	out := make([]byte, 0, n+size)
	h, pooled := prf.(hmacPRF)
	var prev []byte
	for len(out) < n {
		// Each block is summed straight into out, on the PRF's pooled
		// hash (prf.go): no HMAC state nor result per block.
		if pooled {
			out = h.appendMAC(out, skeyidD, prev, gqmxy, proto, spi, niB, nrB)
		} else {
			out = append(out, prf.Compute(skeyidD, prev, gqmxy, proto, spi, niB, nrB)...)
		}
		prev = out[len(out)-size:]
	}
	clear(out[n:])
	return out[:n:n]
}

// protocolBytes holds each byte value at its own index, never written:
// KEYMAT's protocol as a one-byte slice without an allocation per SA
// (the hash's Write makes its argument escape).
var protocolBytes = func() (b [256]byte) {
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

// SAKeys returns the encryption and integrity keys of one IPsec SA: the
// first encLen bytes of its KEYMAT are the encryption key and the next
// integLen the integrity key (RFC 2409, 5.5 with RFC 2406's order, as
// strongSwan and the kernel expect).
func SAKeys(prf PRF, skeyidD, gqmxy []byte, protocol uint8, spi, niB, nrB []byte, encLen, integLen int) (enc, integ []byte) {
	km := Keymat(prf, skeyidD, gqmxy, protocol, spi, niB, nrB, encLen+integLen)
	if len(km) < encLen+integLen {
		return nil, nil
	}
	return km[:encLen:encLen], km[encLen:]
}
