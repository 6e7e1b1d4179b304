package quickmode

import (
	"strings"
	"testing"
)

func TestQuickModeESPTunnel(t *testing.T) {
	s := qmSide{tunnel: true, local: "198.51.100.0/25", remote: "198.51.100.128/25"}
	sb := s
	sb.local, sb.remote = s.remote, s.local
	a, b, p1w := pair(t, s, sb)
	r := runQM(t, a, b, nil)
	checkKeys(t, r)
	out := checkTshark(t, a.p1, p1w, r.wires)
	if !strings.Contains(out, "Quick Mode") {
		t.Errorf("tshark did not see Quick Mode:\n%s", out)
	}
	t.Log(out)
}
