package userfile

import (
	"strings"
	"testing"
)

// FuzzParse: any users file either parses or names a line within it,
// and never panics.
func FuzzParse(f *testing.F) {
	f.Add([]byte("alice:$2y$05$d48uk.mxWusjcgNfS.b/SuQgsAMxKRCtumSRF29Z52hk7uHTjCyp.\n"))
	f.Add([]byte("# c\n\ncarol:$argon2id$v=19$m=65536,t=3,p=1$c2FsdHlzYWx0c2FsdA$vyD6vj+3Lpjm93TKNMXO0NOuDOwe2iOkVHjTwIdNM5o\r\n"))
	f.Add([]byte("a:b:c\n:x\nbob\n"))
	f.Add([]byte("x:$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := Parse(data)
		if err != nil {
			le, ok := err.(*LineError)
			if !ok || le.Line < 1 || le.Line > strings.Count(string(data), "\n")+1 {
				t.Fatalf("%v: not a line of the input", err)
			}
			return
		}
		for name, h := range tab.users {
			if name == "" || strings.Contains(name, ":") || h.kind == 0 {
				t.Fatalf("user %q kind %v", name, h.kind)
			}
		}
	})
}
