package isakmp

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// TestCaptures decodes every datagram captured from strongSwan and ike-scan
// (testdata/captures, one raw ISAKMP message per file) and requires the
// re-encoding to be byte for byte the datagram: header and payloads, or
// header and opaque body for encrypted messages.
// readCapture reads the datagram in file f (failing the test if it
// cannot) and decodes it.
func readCapture(t *testing.T, f string) ([]byte, *Message, error) {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(b)
	return b, m, err
}

func TestCaptures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "captures", "*.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skip("no captures in testdata/captures")
	}
	encrypted := 0
	for _, f := range files {
		b, m, err := readCapture(t, f)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if m.Header.Flags&FlagEncryption != 0 {
			encrypted++
		} else if len(m.Payloads) == 0 {
			t.Errorf("%s: plaintext message without payloads", filepath.Base(f))
		}
		out, err := m.Encode()
		if err != nil {
			t.Errorf("%s: encode: %v", filepath.Base(f), err)
			continue
		}
		if !bytes.Equal(out, b) {
			t.Errorf("%s: re-encoding differs\n got %x\nwant %x", filepath.Base(f), out, b)
		}
		// Every strict prefix, with the header length fixed to match, fails.
		for n := HeaderLen; n < len(b) && m.Header.Flags&FlagEncryption == 0; n++ {
			p := bytes.Clone(b[:n])
			binary.BigEndian.PutUint32(p[24:28], uint32(n))
			if _, err := Decode(p); err == nil {
				t.Errorf("%s: prefix of %d bytes decoded", filepath.Base(f), n)
			}
		}
		for _, p := range m.Payloads {
			body, err := MarshalBody(p)
			if err != nil || !bytes.Equal(body, p.RawBody()) {
				t.Errorf("%s: %v body re-encodes differently (%v)", filepath.Base(f), p.Type(), err)
			}
		}
	}
	t.Logf("%d captures, %d encrypted", len(files), encrypted)
}
