package isakmp

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// String prints the header the way a debug log wants it: cookies, exchange,
// flags and message ID. Cookies are not secret.
func (h Header) String() string {
	return fmt.Sprintf("%s/%s %v flags=%v mid=%08x next=%v len=%d",
		hex.EncodeToString(h.InitiatorCookie[:]), hex.EncodeToString(h.ResponderCookie[:]),
		h.Exchange, h.Flags, h.MessageID, h.NextPayload, h.Length)
}

// Summary lists the payload types of a message in order, e.g.
// "Identity Protection [SA VID VID]", or "[encrypted N bytes]" before Open;
// it is the compact form strongSwan logs ("parsed ID_PROT request 0 [ SA V ]").
func (m *Message) Summary() string {
	var b strings.Builder
	b.WriteString(m.Header.Exchange.String())
	if len(m.Payloads) == 0 && m.Header.Flags&FlagEncryption != 0 {
		fmt.Fprintf(&b, " [encrypted %d bytes]", len(m.Encrypted))
		return b.String()
	}
	b.WriteString(" [")
	for i, p := range m.Payloads {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(p.Type().String())
		if n, ok := p.(*Notification); ok {
			b.WriteString("(" + n.NotifyType.String() + ")")
		}
	}
	b.WriteString("]")
	return b.String()
}
