package daemon

import "testing"

// TestModeConfigFacts: a Mode Config client's DNS servers reach the
// updown script numbered per family, as strongSwan's PLUTO_DNS4_1 do.
func TestModeConfigFacts(t *testing.T) {
	f := facts{}
	modeConfigFacts(f, "198.51.100.53 2001:db8::53 198.51.100.54", "example.net")
	want := facts{"IKED_DNS4_1": "198.51.100.53", "IKED_DNS4_2": "198.51.100.54", "IKED_DNS6_1": "2001:db8::53", "IKED_DOMAIN": "example.net"}
	if len(f) != len(want) {
		t.Errorf("facts %v", f)
	}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("%s=%q, want %q", k, f[k], v)
		}
	}
}
