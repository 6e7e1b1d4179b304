package policymgr

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInlinePSKFileMode: a psk written in a policy file that group or
// others may read is refused at the psk's line, as a psk-file would be; the
// same file owner-only loads.
func TestInlinePSKFileMode(t *testing.T) {
	text := base + dedent(`
	connections:
	  c:
	    remote-gw: 192.0.2.2
	    ike:
	      transforms: [ike]
	      psk: "correct horse"
	    proposal-list: l
	`)
	path := writePolicy(t, text)
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	line := lineOf(t, text, "psk:")
	p, fs, _ := LoadFindings(path, LoadOptions{})
	want := fmt.Sprintf(`line %d: connection "c" ike psk: the policy file has mode 0640: group or others may read the key in it`, line)
	if p != nil || len(fs) != 2 || fs[0].Line != line || !strings.HasPrefix(fs[0].Text, want) || fs[1].Num != 21 {
		logFindings(t, fs)
		t.Fatalf("want %q, then 21", want)
	}
	if strings.Contains(fs[0].String(), "correct horse") {
		t.Errorf("the finding shows the key: %s", fs[0])
	}
	t.Log(fs[0])
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if p, fs, _ := LoadFindings(path, LoadOptions{}); p == nil {
		logFindings(t, fs)
		t.Fatal("refused with mode 0600")
	}
}

// TestSecretFileOwner: a psk-file, or a policy file holding a psk, that
// belongs to another user than root and the daemon's is refused at the
// key's line, whatever its mode.
func TestSecretFileOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	for _, inline := range []bool{true, false} {
		key := "psk-file: c.psk"
		if inline {
			key = `psk: "correct horse"`
		}
		text := base + dedent(`
		connections:
		  c:
		    remote-gw: 192.0.2.2
		    ike:
		      transforms: [ike]
		      `+key+`
		    proposal-list: l
		`)
		path := writePolicy(t, text)
		secret := filepath.Join(filepath.Dir(path), "c.psk")
		if err := os.WriteFile(secret, []byte("correct horse\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if p, fs, _ := LoadFindings(path, LoadOptions{}); p == nil {
			logFindings(t, fs)
			t.Fatalf("inline=%v: refused while owned by root", inline)
		}
		owned := secret
		if inline {
			owned = path
		}
		if err := os.Chown(owned, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		line := lineOf(t, text, "psk")
		p, fs, _ := LoadFindings(path, LoadOptions{})
		if p != nil || len(fs) != 2 || fs[0].Line != line || !strings.Contains(fs[0].Text, owned+" belongs to uid 65534") {
			logFindings(t, fs)
			t.Fatalf("inline=%v: want a refusal at line %d naming uid 65534", inline, line)
		}
		t.Log(fs[0])
	}
}

// TestPSKFileBytesWiped: the bytes read from a psk-file are zero once the
// key is taken out of them; the key keeps its own copy.
func TestPSKFileBytesWiped(t *testing.T) {
	b := []byte("correct horse\r\n")
	psk := secretFromFile(b)
	if string(psk.Bytes()) != "correct horse" {
		t.Fatalf("key %q", psk.Bytes())
	}
	for i, c := range b {
		if c != 0 {
			t.Fatalf("byte %d is %#x after reading, want 0", i, c)
		}
	}
	if len(secretFromFile([]byte("\n"))) != 0 {
		t.Error("a file with a line end alone is not empty")
	}
}
