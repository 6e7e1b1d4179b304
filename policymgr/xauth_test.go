package policymgr

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/notify"
)

// Users-file lines made by `htpasswd -nbB -C 10 alice ...`, `htpasswd
// -nbB -C 5 bob ...` and `argon2 saltysaltsalt -id -m 16 -t 3 -p 1 -e`.
const (
	aliceLine = `alice:$2y$10$T5..skWREPyFwvxvSVgi0.RKsM03Y8U/M0X075c1s57xLnTC6678K`
	bobLine   = `bob:$2y$05$d48uk.mxWusjcgNfS.b/SuQgsAMxKRCtumSRF29Z52hk7uHTjCyp.`
	carolLine = `carol:$argon2id$v=19$m=65536,t=3,p=1$c2FsdHlzYWx0c2FsdA$vyD6vj+3Lpjm93TKNMXO0NOuDOwe2iOkVHjTwIdNM5o`
)

// xauthPolicy writes a policy whose daemon section is xauth, and beside
// it the files named in files (name: text, mode 0600).
func xauthPolicy(t *testing.T, xauth string, files map[string]string) string {
	t.Helper()
	path := writePolicy(t, "daemon:\n  xauth:\n"+xauth)
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(filepath.Dir(path), name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// TestXAuthDecode: each backend's keys decode into policymgr.XAuth with
// their defaults.
func TestXAuthDecode(t *testing.T) {
	path := xauthPolicy(t, "    backend: file\n    users-file: users\n", map[string]string{"users": aliceLine + "\n" + carolLine + "\n"})
	p, fs, err := LoadFindings(path, LoadOptions{})
	if err != nil || p == nil || len(fs) != 0 {
		logFindings(t, fs)
		t.Fatalf("file: %v", err)
	}
	if x := p.Daemon.XAuth; x.Backend != XAuthFile || x.UsersFile != filepath.Join(filepath.Dir(path), "users") || x.Line != 2 {
		t.Errorf("file: %+v", x)
	}

	path = xauthPolicy(t, "    backend: radius\n    radius:\n      servers: [\"192.0.2.10\", \"[2001:db8::10]:11812\"]\n      secret-file: radius.secret\n", map[string]string{"radius.secret": "s3cret\n"})
	p, fs, _ = LoadFindings(path, LoadOptions{})
	if p == nil {
		logFindings(t, fs)
		t.Fatal("radius refused")
	}
	r := p.Daemon.XAuth.RADIUS
	if p.Daemon.XAuth.Backend != XAuthRADIUS || len(r.Servers) != 2 || r.Servers[0] != netip.MustParseAddrPort("192.0.2.10:1812") ||
		r.Servers[1] != netip.MustParseAddrPort("[2001:db8::10]:11812") || string(r.Secret.Bytes()) != "s3cret" ||
		r.NASIdentifier != "iked" || r.Timeout != 3*time.Second {
		t.Errorf("radius: %+v", r)
	}
	if s := p.Daemon.XAuth.String(); !strings.Contains(s, "192.0.2.10:1812 then [2001:db8::10]:11812") || strings.Contains(s, "s3cret") {
		t.Errorf("radius described as %q", s)
	}

	path = xauthPolicy(t, "    backend: radius\n    radius: {servers: 192.0.2.10:1645, secret-file: s, nas-identifier: gw1, timeout: 500ms}\n",
		map[string]string{"s": "x"})
	p, fs, _ = LoadFindings(path, LoadOptions{})
	if p == nil {
		logFindings(t, fs)
		t.Fatal("radius one line refused")
	}
	if r := p.Daemon.XAuth.RADIUS; r.NASIdentifier != "gw1" || r.Timeout != 500*time.Millisecond || r.Servers[0].Port() != 1645 {
		t.Errorf("radius: %+v", r)
	}

	if !pamBuilt {
		p, fs, _ = LoadFindings(xauthPolicy(t, "    backend: pam\n", nil), LoadOptions{})
		if p != nil || len(fs) != 2 || fs[0].Line != 3 || !strings.Contains(fs[0].Text, "iked built without PAM") {
			logFindings(t, fs)
			t.Fatal("pam in a build without cgo: want a refusal")
		}
		return
	}
	p, fs, _ = LoadFindings(xauthPolicy(t, "    backend: pam\n    pam: {service: login}\n", nil), LoadOptions{})
	if p == nil || p.Daemon.XAuth.Backend != XAuthPAM || p.Daemon.XAuth.PAM.Service != "login" {
		logFindings(t, fs)
		t.Fatal("pam")
	}
	p, _, _ = LoadFindings(xauthPolicy(t, "    backend: pam\n", nil), LoadOptions{})
	if p == nil || p.Daemon.XAuth.PAM.Service != "iked" {
		t.Fatal("pam: the default service is not iked")
	}
}

// TestXAuthMistakes: every mistake in daemon.xauth names its line, and
// the serious ones refuse the policy.
func TestXAuthMistakes(t *testing.T) {
	users := map[string]string{"users": aliceLine + "\n"}
	for _, c := range []struct {
		name, xauth string
		files       map[string]string
		line        int
		want        string
		warning     bool
	}{
		{"no backend", "    users-file: users\n", users, 2, "no backend", false},
		{"unknown backend", "    backend: ldap\n", nil, 3, `backend "ldap": it must be file, radius or pam`, false},
		{"unknown key", "    backend: file\n    users-file: users\n    user-file: x\n", users, 5, `unknown key "user-file" in daemon xauth (did you mean "users-file"?)`, false},
		{"no users-file", "    backend: file\n", nil, 3, "backend file needs users-file", false},
		{"missing users-file", "    backend: file\n    users-file: nowhere\n", nil, 4, "nowhere: no such file or directory", false},
		{"malformed users-file", "    backend: file\n    users-file: users\n", map[string]string{"users": aliceLine + "\nbob\n"}, 4, `users line 2: it is not "name:HASH"`, false},
		{"duplicate user", "    backend: file\n    users-file: users\n", map[string]string{"users": aliceLine + "\n" + aliceLine + "\n"}, 4, `line 2: user "alice" is on line 1 already`, false},
		{"weak bcrypt", "    backend: file\n    users-file: users\n", map[string]string{"users": aliceLine + "\n" + bobLine + "\n"}, 4, "line 2: bcrypt cost 5 is below 10", true},
		{"empty users-file", "    backend: file\n    users-file: users\n", map[string]string{"users": "# nobody yet\n"}, 4, "holds no user", true},
		{"other backend's key", "    backend: file\n    users-file: users\n    radius: {servers: [192.0.2.10]}\n", users, 5, "daemon xauth radius is ignored: the backend is file", true},
		{"no radius", "    backend: radius\n", nil, 3, "backend radius needs radius", false},
		{"no servers", "    backend: radius\n    radius: {secret-file: s}\n", map[string]string{"s": "x"}, 4, "daemon xauth radius needs servers", false},
		{"no secret", "    backend: radius\n    radius: {servers: [192.0.2.10]}\n", nil, 4, "daemon xauth radius needs secret-file", false},
		{"bad server", "    backend: radius\n    radius:\n      servers: [radius.example.net]\n      secret-file: s\n", map[string]string{"s": "x"}, 5, `"radius.example.net" is not ADDRESS or ADDRESS:PORT`, false},
		{"port 0", "    backend: radius\n    radius:\n      servers: [\"192.0.2.10:0\"]\n      secret-file: s\n", map[string]string{"s": "x"}, 5, "is not ADDRESS or ADDRESS:PORT", false},
		{"server twice", "    backend: radius\n    radius:\n      servers: [192.0.2.10, \"192.0.2.10:1812\"]\n      secret-file: s\n", map[string]string{"s": "x"}, 5, "192.0.2.10:1812 is given twice", false},
		{"empty secret", "    backend: radius\n    radius:\n      servers: [192.0.2.10]\n      secret-file: s\n", map[string]string{"s": "\n"}, 6, "secret-file " + "DIR/s is empty", false},
		{"timeout", "    backend: radius\n    radius:\n      servers: [192.0.2.10]\n      secret-file: s\n      timeout: 10m\n", map[string]string{"s": "x"}, 7, "timeout must be between 100ms and 1m0s", false},
		{"pam service", "    backend: pam\n    pam: {service: ../shadow}\n", nil, 4, `service "../shadow": it must be a file name in /etc/pam.d`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := xauthPolicy(t, c.xauth, c.files)
			want := strings.ReplaceAll(c.want, "DIR", filepath.Dir(path))
			p, fs, _ := LoadFindings(path, LoadOptions{})
			found := false
			for _, f := range fs {
				if f.Line == c.line && strings.Contains(f.Text, want) {
					found = true
					if c.warning != (f.Level == notify.LevelWarning) {
						t.Errorf("level %v", f.Level)
					}
				}
			}
			if !found || (p != nil) != c.warning {
				logFindings(t, fs)
				t.Fatalf("want line %d: %s (loads: %v)", c.line, want, c.warning)
			}
		})
	}
}

// TestXAuthSecretFilesReadable: a users file or RADIUS secret file that
// group or others may read is refused at its key's line.
func TestXAuthSecretFilesReadable(t *testing.T) {
	for _, c := range []struct{ xauth, file string }{
		{"    backend: file\n    users-file: users\n", "users"},
		{"    backend: radius\n    radius:\n      servers: [192.0.2.10]\n      secret-file: users\n", "users"},
	} {
		path := xauthPolicy(t, c.xauth, map[string]string{c.file: aliceLine + "\n"})
		if p, fs, _ := LoadFindings(path, LoadOptions{}); p == nil {
			logFindings(t, fs)
			t.Fatal("refused with mode 0600")
		}
		file := filepath.Join(filepath.Dir(path), c.file)
		os.Chmod(file, 0o644)
		p, fs, _ := LoadFindings(path, LoadOptions{})
		line := lineOf(t, "daemon:\n  xauth:\n"+c.xauth, c.file)
		if p != nil || len(fs) != 2 || fs[0].Line != line || !strings.Contains(fs[0].Text, file+" has mode 0644") {
			logFindings(t, fs)
			t.Fatalf("want a refusal at line %d naming mode 0644", line)
		}
	}
}

// TestXAuthCheckDescribes: iked -check says where logins are checked,
// and what the users file holds.
func TestXAuthCheckDescribes(t *testing.T) {
	path := xauthPolicy(t, "    backend: file\n    users-file: users\n", map[string]string{"users": aliceLine + "\n" + carolLine + "\n"})
	fs, ok := Check(path, LoadOptions{})
	if !ok || len(fs) != 1 || fs[0].Level != notify.LevelInfo || fs[0].Line != 2 ||
		!strings.Contains(fs[0].Text, "2 users; argon2id m=65536,t=3,p=1: 1, bcrypt cost 10: 1") {
		logFindings(t, fs)
		t.Fatal("no description of the users file")
	}
	t.Log(fs[0])
}
