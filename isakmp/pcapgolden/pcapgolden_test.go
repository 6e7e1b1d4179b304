package pcapgolden

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func capture(t *testing.T, name string) []byte {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "captures", name))
	if err != nil {
		t.Skip(err)
	}
	return b
}

// TestRealDatagramDissects writes a datagram strongSwan sent (from the
// isakmp captures) and checks that tshark dissects it as ISAKMP from the
// documentation addresses we wrote, with no problem.
func TestRealDatagramDissects(t *testing.T) {
	b := capture(t, "strongswan-a-mm-psk-modp2048-01-i2r.bin")
	p := filepath.Join(t.TempDir(), "x.pcap")
	var buf bytes.Buffer
	if err := Write(&buf, []Datagram{{Src: Initiator, Dst: Responder, Payload: b}, {Src: Responder, Dst: Initiator, SrcPort: 4500, DstPort: 4500, NonESPMarker: true, Payload: b}}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p, buf.Bytes(), 0o644)
	summary := Tshark(t, p)
	lines := strings.Split(strings.TrimSpace(summary), "\n")
	if len(lines) != 2 {
		t.Fatalf("summary: %q", summary)
	}
	for _, want := range []string{"192.0.2.1", "198.51.100.1", "ISAKMP", "Identity Protection"} {
		if !strings.Contains(lines[0], want) || !strings.Contains(lines[1], "ISAKMP") {
			t.Errorf("summary lacks %q: %q", want, summary)
		}
	}
}

// TestMalformedDetected proves the checker can fail: a datagram whose first
// payload claims more bytes than there are is reported.
func TestMalformedDetected(t *testing.T) {
	b := bytes.Clone(capture(t, "strongswan-a-mm-psk-modp2048-01-i2r.bin"))
	binary.BigEndian.PutUint16(b[30:32], 0xfff0) // SA payload length past the end
	p := filepath.Join(t.TempDir(), "bad.pcap")
	var buf bytes.Buffer
	Write(&buf, []Datagram{{Src: Initiator, Dst: Responder, Payload: b}})
	os.WriteFile(p, buf.Bytes(), 0o644)
	_, problems, err := Check(p)
	SkipNoTshark(t, err)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) == 0 {
		t.Fatal("tshark found nothing wrong with a broken SA payload length")
	}
	t.Logf("problems: %q", problems)
}

func TestChecksum(t *testing.T) {
	// RFC 1071 example header: 4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7 -> b861.
	h := []byte{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0, 0, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7}
	if c := checksum(h); c != 0xb861 {
		t.Fatalf("checksum %04x", c)
	}
}
