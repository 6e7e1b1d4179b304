package policymgr

import (
	"testing"

	"github.com/iked/iked/notify"
)

// TestFragmentationKey: a connection's fragmentation key, its default
// (yes, as strongSwan's), strongSwan's and YAML's spellings, and the
// finding of a wrong word with its line.
func TestFragmentationKey(t *testing.T) {
	for _, tc := range []struct {
		conn string
		want Fragmentation
	}{
		{"", FragmentYes},
		{"\t    fragmentation: yes", FragmentYes},
		{"\t    fragmentation: true", FragmentYes},
		{"\t    fragmentation: force", FragmentForce},
		{"\t    fragmentation: no", FragmentNo},
		{"\t    fragmentation: off", FragmentNo},
	} {
		p, fs, err := LoadFindings(writePolicy(t, opsPolicy("", tc.conn)), LoadOptions{})
		if err != nil || p == nil {
			t.Fatalf("%q: %v %v", tc.conn, err, fs)
		}
		c, _ := p.Connection("branch")
		if c.Fragmentation != tc.want {
			t.Errorf("%q: fragmentation %v, want %v", tc.conn, c.Fragmentation, tc.want)
		}
	}

	_, fs, _ := LoadFindings(writePolicy(t, opsPolicy("", "\t    fragmentation: accept")), LoadOptions{})
	checkFindings(t, fs, []string{
		`0|line 36: connection "branch" fragmentation "accept": it must be yes, force or no`,
		"21|" + txt21,
	})
	_, fs, _ = LoadFindings(writePolicy(t, opsPolicy("", "\t    fragmentation: [yes]")), LoadOptions{})
	checkFindings(t, fs, []string{
		`0|line 36: connection "branch" fragmentation must be a single value, not a list`,
		"21|" + txt21,
	})
}

// TestCheckFragmentation: `iked -check` says at the connection's line
// when its fragmentation is not the default.
func TestCheckFragmentation(t *testing.T) {
	for word, text := range map[string]string{
		"force": `line 30: connection "branch": its IKE messages over the path limit are always sent in fragments`,
		"no":    `line 30: connection "branch": its IKE messages are never sent in fragments`,
	} {
		fs, ok := Check(writePolicy(t, opsPolicy("", "\t    fragmentation: "+word)), LoadOptions{})
		if !ok || len(fs) != 1 || fs[0].Level != notify.LevelInfo || fs[0].Text != text {
			logFindings(t, fs)
			t.Fatalf("%s: want one info finding %q", word, text)
		}
	}
}
