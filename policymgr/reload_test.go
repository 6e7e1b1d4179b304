package policymgr

import (
	"os"
	"strings"
	"testing"
)

const reloadBase = base + "connections:\n"

func conn(name, gw, psk string) string {
	return "  " + name + ":\n    local-gw: 192.0.2.1\n    remote-gw: " + gw + "\n    ike: {transforms: [ike], psk: \"" + psk + "\"}\n    proposal-list: l\n"
}

func TestReload(t *testing.T) {
	path := writePolicy(t, reloadBase+conn("keep", "192.0.2.2", "k")+conn("change", "192.0.2.3", "old")+conn("drop", "192.0.2.4", "d"))
	m := NewManager(path, LoadOptions{})
	if m.Current() != nil {
		t.Fatal("a policy before Start")
	}
	fs, ok := m.Start()
	if !ok || m.Current() == nil {
		logFindings(t, fs)
		t.Fatal("start refused")
	}
	first := m.Current()

	// A good file: swapped, and the diff compares by content (a changed
	// PSK changes the connection; whitespace and order do not).
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(reloadBase + conn("add", "192.0.2.5", "a") + conn("change", "192.0.2.3", "new") + "\n\n" + conn("keep", "192.0.2.2", "k"))
	r := m.Reload()
	if !r.Applied || m.Current() == first {
		logFindings(t, r.Findings)
		t.Fatal("good reload not applied")
	}
	d := r.Diff
	if strings.Join(d.Added, ",") != "add" || strings.Join(d.Removed, ",") != "drop" || strings.Join(d.Changed, ",") != "change" || strings.Join(d.Unchanged, ",") != "keep" {
		t.Errorf("diff %+v", d)
	}
	second := m.Current()

	// A broken file: its messages and 21, and the running policy stays.
	write(reloadBase + conn("keep", "192.0.2.300", "k"))
	r = m.Reload()
	if r.Applied || m.Current() != second {
		t.Fatal("broken reload replaced the policy")
	}
	checkFindings(t, r.Findings, []string{"17|SPD: Invalid remote-gw specification keep", "21|" + txt21})
	if c, ok := m.Current().Connection("add"); !ok || c.RemoteGW != addr("192.0.2.5") {
		t.Error("running policy lost its connection")
	}

	// An unreadable file: message 5, nothing changes.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	r = m.Reload()
	if r.Applied || m.Current() != second {
		t.Fatal("unreadable reload replaced the policy")
	}
	checkFindings(t, r.Findings, []string{"5|Could not read configuration file `" + path + "': not reconfiguring"})

	// The same content again: nothing changed.
	write(reloadBase + conn("add", "192.0.2.5", "a") + conn("change", "192.0.2.3", "new") + conn("keep", "192.0.2.2", "k"))
	r = m.Reload()
	if !r.Applied || !r.Diff.Empty() || len(r.Diff.Unchanged) != 3 {
		t.Errorf("identical reload: %+v", r.Diff)
	}
}

func TestStartRefused(t *testing.T) {
	m := NewManager(writePolicy(t, "connections:\n  c: {remote-gw: 192.0.2.300}\n"), LoadOptions{})
	fs, ok := m.Start()
	if ok || m.Current() != nil || len(fs) == 0 || fs[len(fs)-1].Num != 21 {
		logFindings(t, fs)
		t.Fatal("a broken file at start must refuse with 21")
	}
	m = NewManager(t.TempDir()+"/missing.yaml", LoadOptions{})
	fs, ok = m.Start()
	if ok || len(fs) != 2 || !strings.Contains(fs[0].Text, "cannot read the policy file") || fs[1].Num != 21 {
		logFindings(t, fs)
		t.Fatal("a missing file at start must refuse")
	}
}
