package control

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAppendJSONMatches: the hand-written encoding of SAs and bundles is
// byte for byte what encoding/json writes by reflection for their wire
// forms (saWire, childWire), strings that need escaping included, and
// decodes back to the same values.
func TestAppendJSONMatches(t *testing.T) {
	odd := "a\"b\\c<d>&e\u2028f\u2029g\x01h\ni\tj\r\b\fé\xffk"
	rekey, expire := 44*time.Minute+500*time.Millisecond, time.Duration(0)
	n := uint64(1 << 40)
	full := ChildSA{Conn: odd, MessageID: 0xfffffffe, ReqID: 7, Role: "responder", State: "rekeying", Mode: "tunnel",
		Encap: "udp 4500:4500 oa 192.0.2.9", PFS: "256-bit random ECP group", Local: "192.0.2.1", Remote: "2001:db8::1",
		LocalTS: "198.51.100.0/24[tcp/80]", RemoteTS: "any", LifeSeconds: 3600, LifeKBytes: 1 << 20, RekeySeconds: 3240, RekeyKBytes: 9,
		Installed: time.Date(2026, 12, 4, 21, 0, 0, 123456789, time.FixedZone("x", 3600)),
		Age:       -1500 * time.Millisecond, RekeyIn: &rekey, ExpiresIn: &expire,
		SAs: []IPsecSA{{Direction: "in", Protocol: "esp", SPI: "0xc1000001", Src: "a", Dst: "b", Encryption: odd, Integrity: "i", Compression: "c", Bytes: &n},
			{Direction: "out", Protocol: "ah", SPI: "0x1", Src: "b", Dst: "a"}}}
	sas := []SA{
		{},
		{ICookie: "0102030405060708", RCookie: "0000000000000000", Conn: odd, Role: "initiator", Local: "l", Remote: "r",
			State: "half-open", Age: 10*time.Minute + 1,
			Exchanges: []Exchange{{MessageID: 1, Type: "Quick Mode", State: odd, Retransmits: 3, AwaitingReply: true}, {}}},
		{Conn: "c", Established: true, Children: []ChildSA{full, {Installed: time.Unix(0, 0).UTC()}}, Age: time.Hour},
	}
	for i, sa := range sas {
		want := reflected(t, sa)
		if got := sa.AppendJSON(nil); string(got) != string(want) {
			t.Errorf("SA %d:\n got %s\nwant %s", i, got, want)
		}
		var back SA
		if err := json.Unmarshal(want, &back); err != nil {
			t.Fatal(err)
		}
		if got, want := back.AppendJSON(nil), reflected(t, back); string(got) != string(want) {
			t.Errorf("SA %d after decoding:\n got %s\nwant %s", i, got, want)
		}
	}
}

// reflected is sa as encoding/json writes its wire form by reflection.
func reflected(t *testing.T, sa SA) []byte {
	t.Helper()
	w := saWire{saJSON: saJSON(sa), Age: seconds(sa.Age)}
	for _, c := range sa.Children {
		cw := childWire{childJSON: childJSON(c), Age: seconds(c.Age)}
		if c.RekeyIn != nil {
			s := seconds(*c.RekeyIn)
			cw.RekeyIn = &s
		}
		if c.ExpiresIn != nil {
			s := seconds(*c.ExpiresIn)
			cw.ExpiresIn = &s
		}
		w.Children = append(w.Children, cw)
	}
	b, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSecondsText: seconds print as the number of seconds with up to nine
// decimals and no trailing zeros.
func TestSecondsText(t *testing.T) {
	for _, d := range []time.Duration{0, 1, -1, time.Second, 1500 * time.Millisecond, -90*time.Second - 10, 1<<63 - 1, -1<<63 + 1} {
		sign, a := "", d
		if a < 0 {
			sign, a = "-", -a
		}
		want := sign + strconv.FormatInt(int64(a/time.Second), 10)
		if f := int64(a % time.Second); f != 0 {
			want += strings.TrimRight("."+strconv.FormatInt(f+1e9, 10)[1:], "0")
		}
		if got := string(seconds(d).appendJSON(nil)); got != want {
			t.Errorf("%d: %s, want %s", d, got, want)
		}
	}
}
