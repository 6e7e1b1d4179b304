package control

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// The list-sas answer is most of what the control socket carries: about
// ten fields a line of `ikectl list-sas`, a million lines at 100,000 SA
// pairs (docs/performance.md, "ikectl list-sas at scale"). Its records are
// written by hand here, with the bytes encoding/json would write for them
// (field order, omitempty, HTML-safe escaping; TestAppendJSONMatches),
// rather than by reflection and a nested Marshaler per SA.

// AppendJSON appends sa as encoding/json writes it (MarshalJSON).
func (sa *SA) AppendJSON(b []byte) []byte {
	b = append(b, `{"icookie":`...)
	b = appendString(b, sa.ICookie)
	b = append(b, `,"rcookie":`...)
	b = appendString(b, sa.RCookie)
	if sa.Conn != "" {
		b = append(b, `,"conn":`...)
		b = appendString(b, sa.Conn)
	}
	b = append(b, `,"role":`...)
	b = appendString(b, sa.Role)
	b = append(b, `,"local":`...)
	b = appendString(b, sa.Local)
	b = append(b, `,"remote":`...)
	b = appendString(b, sa.Remote)
	b = append(b, `,"state":`...)
	b = appendString(b, sa.State)
	b = append(b, `,"established":`...)
	b = strconv.AppendBool(b, sa.Established)
	if len(sa.Exchanges) > 0 {
		b = append(b, `,"exchanges":[`...)
		for i := range sa.Exchanges {
			if i > 0 {
				b = append(b, ',')
			}
			b = sa.Exchanges[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	if len(sa.Children) > 0 {
		b = append(b, `,"children":[`...)
		for i := range sa.Children {
			if i > 0 {
				b = append(b, ',')
			}
			b = sa.Children[i].AppendJSON(b)
		}
		b = append(b, ']')
	}
	b = append(b, `,"age_seconds":`...)
	b = seconds(sa.Age).appendJSON(b)
	return append(b, '}')
}

func (e *Exchange) appendJSON(b []byte) []byte {
	b = append(b, `{"message_id":`...)
	b = strconv.AppendUint(b, uint64(e.MessageID), 10)
	b = append(b, `,"type":`...)
	b = appendString(b, e.Type)
	b = append(b, `,"state":`...)
	b = appendString(b, e.State)
	b = append(b, `,"retransmits":`...)
	b = strconv.AppendInt(b, int64(e.Retransmits), 10)
	b = append(b, `,"awaiting_reply":`...)
	b = strconv.AppendBool(b, e.AwaitingReply)
	return append(b, '}')
}

// AppendJSON appends c as encoding/json writes it (MarshalJSON).
func (c *ChildSA) AppendJSON(b []byte) []byte {
	b = append(b, `{"conn":`...)
	b = appendString(b, c.Conn)
	b = append(b, `,"message_id":`...)
	b = strconv.AppendUint(b, uint64(c.MessageID), 10)
	b = append(b, `,"reqid":`...)
	b = strconv.AppendUint(b, uint64(c.ReqID), 10)
	b = append(b, `,"role":`...)
	b = appendString(b, c.Role)
	b = append(b, `,"state":`...)
	b = appendString(b, c.State)
	b = append(b, `,"mode":`...)
	b = appendString(b, c.Mode)
	b = appendOptString(b, `,"encap":`, c.Encap)
	b = appendOptString(b, `,"pfs":`, c.PFS)
	b = append(b, `,"local":`...)
	b = appendString(b, c.Local)
	b = append(b, `,"remote":`...)
	b = appendString(b, c.Remote)
	b = append(b, `,"local_ts":`...)
	b = appendString(b, c.LocalTS)
	b = append(b, `,"remote_ts":`...)
	b = appendString(b, c.RemoteTS)
	b = appendOptUint(b, `,"life_seconds":`, c.LifeSeconds)
	b = appendOptUint(b, `,"life_kbytes":`, c.LifeKBytes)
	b = appendOptUint(b, `,"rekey_seconds":`, c.RekeySeconds)
	b = appendOptUint(b, `,"rekey_kbytes":`, c.RekeyKBytes)
	b = append(b, `,"installed":`...)
	b = appendTime(b, c.Installed)
	b = append(b, `,"sas":`...)
	if c.SAs == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range c.SAs {
			if i > 0 {
				b = append(b, ',')
			}
			b = c.SAs[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	b = append(b, `,"age_seconds":`...)
	b = seconds(c.Age).appendJSON(b)
	if c.RekeyIn != nil {
		b = append(b, `,"rekey_in_seconds":`...)
		b = seconds(*c.RekeyIn).appendJSON(b)
	}
	if c.ExpiresIn != nil {
		b = append(b, `,"expires_in_seconds":`...)
		b = seconds(*c.ExpiresIn).appendJSON(b)
	}
	return append(b, '}')
}

func (s *IPsecSA) appendJSON(b []byte) []byte {
	b = append(b, `{"direction":`...)
	b = appendString(b, s.Direction)
	b = append(b, `,"protocol":`...)
	b = appendString(b, s.Protocol)
	b = append(b, `,"spi":`...)
	b = appendString(b, s.SPI)
	b = append(b, `,"src":`...)
	b = appendString(b, s.Src)
	b = append(b, `,"dst":`...)
	b = appendString(b, s.Dst)
	b = appendOptString(b, `,"encryption":`, s.Encryption)
	b = appendOptString(b, `,"integrity":`, s.Integrity)
	b = appendOptString(b, `,"compression":`, s.Compression)
	if s.Bytes != nil {
		b = append(b, `,"bytes":`...)
		b = strconv.AppendUint(b, *s.Bytes, 10)
	}
	return append(b, '}')
}

func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}

func appendOptUint(b []byte, key string, v uint64) []byte {
	if v == 0 {
		return b
	}
	return strconv.AppendUint(append(b, key...), v, 10)
}

// appendTime writes t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds, quoted).
func appendTime(b []byte, t time.Time) []byte {
	j, err := t.MarshalJSON()
	if err != nil { // a year outside 0-9999: encoding/json would fail the whole answer
		return append(b, `"`+t.UTC().Format(time.RFC3339Nano)+`"`...)
	}
	return append(b, j...)
}

// appendJSON writes s as MarshalJSON does.
func (s seconds) appendJSON(b []byte) []byte {
	d := time.Duration(s)
	if d < 0 {
		b, d = append(b, '-'), -d
	}
	whole, frac := int64(d/time.Second), int64(d%time.Second)
	b = strconv.AppendInt(b, whole, 10)
	if frac != 0 {
		var f [10]byte
		digits := strconv.AppendInt(f[:0], frac+1e9, 10)[1:]
		for len(digits) > 0 && digits[len(digits)-1] == '0' {
			digits = digits[:len(digits)-1]
		}
		b = append(append(b, '.'), digits...)
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString quotes s as encoding/json does by default: HTML-safe (<,
// >, & as \u003c...), U+2028 and U+2029 escaped, invalid UTF-8 replaced
// by U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
