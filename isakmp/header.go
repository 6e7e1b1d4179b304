package isakmp

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Version is the ISAKMP version octet of IKEv1: major 1, minor 0.
const Version = 0x10

// Header is the ISAKMP header (RFC 2408, 3.1).
//
//	 0                   1                   2                   3
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	!                          Initiator Cookie                     !
//	!                          Responder Cookie                     !
//	!  Next Payload ! MjVer ! MnVer ! Exchange Type !     Flags     !
//	!                          Message ID                           !
//	!                            Length                             !
type Header struct {
	InitiatorCookie [8]byte
	ResponderCookie [8]byte
	NextPayload     PayloadType
	Exchange        ExchangeType
	Flags           Flags
	MessageID       uint32
	// Length is the whole message length; Encode computes it.
	Length uint32
}

// ParseHeader decodes and checks the ISAKMP header of a datagram: size,
// version, flags and that the header length equals the datagram length. It
// is the cheap check the daemon runs before any other decoding.
func ParseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderLen {
		return h, ErrShortHeader
	}
	copy(h.InitiatorCookie[:], b[0:8])
	copy(h.ResponderCookie[:], b[8:16])
	h.NextPayload = PayloadType(b[16])
	if b[17]>>4 != 1 {
		return h, fmt.Errorf("%w: %d", ErrInvalidMajorVersion, b[17]>>4)
	}
	if b[17]&0x0f != 0 {
		return h, fmt.Errorf("%w: %d", ErrInvalidMinorVersion, b[17]&0x0f)
	}
	h.Exchange = ExchangeType(b[18])
	h.Flags = Flags(b[19])
	if h.Flags&^flagsDefined != 0 {
		return h, fmt.Errorf("%w: %#02x", ErrInvalidFlags, uint8(h.Flags))
	}
	h.MessageID = binary.BigEndian.Uint32(b[20:24])
	h.Length = binary.BigEndian.Uint32(b[24:28])
	if uint64(h.Length) != uint64(len(b)) {
		return h, fmt.Errorf("%w: header says %d, datagram has %d", ErrLengthMismatch, h.Length, len(b))
	}
	return h, nil
}

// appendHeader writes h with the given total length (RFC 2408, 3.1).
func appendHeader(dst []byte, h Header, length uint32) []byte {
	dst = append(dst, h.InitiatorCookie[:]...)
	dst = append(dst, h.ResponderCookie[:]...)
	dst = append(dst, byte(h.NextPayload), Version, byte(h.Exchange), byte(h.Flags))
	dst = binary.BigEndian.AppendUint32(dst, h.MessageID)
	return binary.BigEndian.AppendUint32(dst, length)
}

// NewMessageID returns a random message ID for an exchange we start: not
// 0, which is phase 1's (RFC 2408, 3.1), and not one for which inUse
// (nil: none) is true.
func NewMessageID(r io.Reader, inUse func(uint32) bool) (uint32, error) {
	var b [4]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, err
		}
		if id := binary.BigEndian.Uint32(b[:]); id != 0 && (inUse == nil || !inUse(id)) {
			return id, nil
		}
	}
}
