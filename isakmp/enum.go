package isakmp

import "strconv"

func uitoa(v uint64) string { return strconv.FormatUint(v, 10) }

// enumName prints a known value by its RFC name and an unknown one as
// TypeName(number), so logs never lose the received value.
func enumName[T ~uint8 | ~uint16 | ~uint32](v T, typ string, names map[T]string) string {
	if s, ok := names[v]; ok {
		return s
	}
	return typ + "(" + strconv.FormatUint(uint64(v), 10) + ")"
}
