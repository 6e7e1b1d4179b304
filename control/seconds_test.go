package control

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestDurationsInSeconds: every duration of the protocol is a number of
// seconds in a field named *_seconds, and comes back to the nanosecond.
func TestDurationsInSeconds(t *testing.T) {
	rekey, expire := 44*time.Minute+500*time.Millisecond, time.Duration(0)
	resp := Response{
		Status: &Status{Version: "v", Uptime: 90 * time.Second},
		SAs: []SA{{ICookie: "01", Age: 1500 * time.Millisecond, Children: []ChildSA{{Conn: "c",
			Age: 10*time.Minute + 1, RekeyIn: &rekey, ExpiresIn: &expire}}}},
		Detached: []ChildSA{{Conn: "d", Age: 2 * time.Second}},
	}
	b, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{`"uptime_seconds":90`, `"age_seconds":1.5`, `"age_seconds":600.000000001`,
		`"rekey_in_seconds":2640.5`, `"expires_in_seconds":0`, `"age_seconds":2}`} {
		if !strings.Contains(text, want) {
			t.Errorf("JSON lacks %s:\n%s", want, text)
		}
	}
	for _, old := range []string{`"uptime":`, `"age":`, `"rekey_in":`, `"expires_in":`} {
		if strings.Contains(text, old) {
			t.Errorf("JSON still has %s:\n%s", old, text)
		}
	}
	var back Response
	if err := readMessage(newLineReader(b), &back, MaxMessage); err != nil {
		t.Fatal(err)
	}
	c := back.SAs[0].Children[0]
	if back.Status.Uptime != 90*time.Second || back.SAs[0].Age != 1500*time.Millisecond || c.Age != 10*time.Minute+1 ||
		c.RekeyIn == nil || *c.RekeyIn != rekey || c.ExpiresIn == nil || *c.ExpiresIn != 0 || back.Detached[0].Age != 2*time.Second ||
		back.Status.Version != "v" || c.Conn != "c" {
		t.Errorf("round trip: %+v %+v", back.Status, back.SAs)
	}
	// Unknown fields are still refused inside the types with their own
	// decoding.
	if err := readMessage(newLineReader([]byte(`{"status":{"uptime_seconds":1,"bogus":2}}`)), &back, MaxMessage); err == nil {
		t.Error("unknown field in status accepted")
	}
}

func newLineReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }
