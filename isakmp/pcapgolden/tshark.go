package pcapgolden

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ErrNoTshark is returned by Check when tshark is not installed.
var ErrNoTshark = errors.New("pcapgolden: tshark is not installed (Debian package tshark)")

// Check runs tshark on a pcap file and returns its one-line-per-packet
// summary and the problems it found: any "Malformed Packet" and any expert
// entry of severity warning or error. extra arguments (e.g. "-o", "...")
// are passed to every run.
func Check(pcap string, extra ...string) (summary string, problems []string, err error) {
	bin, err := exec.LookPath("tshark")
	if err != nil {
		return "", nil, ErrNoTshark
	}
	cfg, err := os.MkdirTemp("", "pcapgolden-")
	if err != nil {
		return "", nil, err
	}
	defer os.RemoveAll(cfg)
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, append(append([]string{"-n", "-r", pcap}, extra...), args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		// A private configuration directory keeps the user's preferences out.
		cmd.Env = append(os.Environ(), "WIRESHARK_CONFIG_DIR="+cfg, "XDG_CONFIG_HOME="+cfg, "LC_ALL=C")
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("tshark %v: %v: %s", args, err, errb.String())
		}
		return out.String(), nil
	}
	verbose, err := run("-V")
	if err != nil {
		return "", nil, err
	}
	for _, l := range strings.Split(verbose, "\n") {
		if strings.Contains(l, "Malformed Packet") {
			problems = append(problems, strings.TrimSpace(l))
		}
	}
	expert, err := run("-q", "-z", "expert,warn")
	if err != nil {
		return "", nil, err
	}
	if hasExpert(expert) {
		problems = append(problems, "expert info:\n"+expert)
	}
	summary, err = run()
	return summary, problems, err
}

// Tshark is Check for tests: it skips t when tshark is missing and fails it
// on any problem, printing tshark's verbose dissection.
func Tshark(t testing.TB, pcap string, extra ...string) string {
	t.Helper()
	summary, problems, err := Check(pcap, extra...)
	SkipNoTshark(t, err)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("tshark on %s: %s", pcap, p)
	}
	return summary
}

// SkipNoTshark skips t when err says tshark is missing, except under CI
// (CI set, as in .ci/run), where a skipped dissection would hide that
// nothing was checked and the test fails instead.
func SkipNoTshark(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, ErrNoTshark) {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%v; CI is set, so it must be installed (.ci/run installs it)", err)
	}
	t.Skip(err)
}

// hasExpert reports whether tshark's "-z expert" output lists any entry:
// its tables start with a severity heading such as "Errors (1)".
func hasExpert(out string) bool {
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		for _, sev := range []string{"Errors (", "Warnings (", "Error (", "Warning ("} {
			if strings.HasPrefix(l, sev) {
				return true
			}
		}
	}
	return false
}

// Golden writes the datagrams to dir/name.pcap, checks them with Tshark and
// compares the pcap bytes and tshark's summary with the golden files
// dir/name.pcap and dir/name.txt; with update set it rewrites them instead.
func Golden(t testing.TB, dir, name string, ds []Datagram, update bool) {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, ds); err != nil {
		t.Fatal(err)
	}
	pcapPath := filepath.Join(dir, name+".pcap")
	txtPath := filepath.Join(dir, name+".txt")
	tmp := filepath.Join(t.TempDir(), name+".pcap")
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	summary := Tshark(t, tmp)
	if update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pcapPath, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(txtPath, []byte(summary), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(pcapPath)
	if err != nil {
		t.Fatalf("%v (regenerate with -update)", err)
	}
	if !bytes.Equal(want, buf.Bytes()) {
		t.Errorf("%s differs from the encoder's output (regenerate with -update if intended)", pcapPath)
	}
	wantTxt, err := os.ReadFile(txtPath)
	if err != nil {
		t.Fatalf("%v (regenerate with -update)", err)
	}
	if string(wantTxt) != summary {
		t.Errorf("tshark summary differs from %s:\n got %s\nwant %s", txtPath, summary, wantTxt)
	}
}
