package interop

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// libreswan's pluto as a peer in a namespace. Debian's libreswan package
// conflicts with strongSwan's, so it is not installed on the machine:
// scripts/kernel-test-libreswan.sh unpacks it (and the libraries the
// machine lacks) into a folder named by IKED_LIBRESWAN_ROOT, and each
// pluto runs chrooted in an overlay of that folder on the machine's root:
// libreswan's files over the machine's (ip, sh, libc), with its own
// writable /etc, /run and /var/lib/ipsec/nss, so several plutos run side
// by side, one per namespace.

// LibreswanRootEnv names the folder holding libreswan's unpacked files.
const LibreswanRootEnv = "IKED_LIBRESWAN_ROOT"

// RequireLibreswan skips t (fails it in CI) when libreswan's files are
// not unpacked, and returns their folder.
func RequireLibreswan(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(LibreswanRootEnv)
	if dir == "" {
		missing(t, "libreswan: "+LibreswanRootEnv+" names no folder (scripts/kernel-test.sh unpacks Debian's libreswan for its VM)")
		return ""
	}
	if _, err := os.Stat(filepath.Join(dir, "usr/libexec/ipsec/pluto")); err != nil {
		missing(t, "libreswan: no pluto in "+LibreswanRootEnv+": "+err.Error())
	}
	return dir
}

// PlutoOptions is what one pluto is given.
type PlutoOptions struct {
	Conf    string // /etc/ipsec.conf
	Secrets string // /etc/ipsec.secrets
	// P12 (optional): a PKCS#12 file without password, imported into the
	// NSS database under its friendly name; CACert: a PEM CA certificate
	// trusted for peers' certificates.
	P12, CACert string
}

// Pluto is a running pluto.
type Pluto struct {
	NS   *Namespace
	Root string // the chroot
	Proc *Process
	t    testing.TB
}

// StartPluto makes pluto's root, its NSS database (with the certificates of
// opt), starts pluto in ns with its log on standard error (Proc.Output)
// and adds the connections of opt.Conf (ipsec addconn --autoall).
func StartPluto(t testing.TB, ns *Namespace, opt PlutoOptions) *Pluto {
	t.Helper()
	lower := RequireLibreswan(t)
	t0 := time.Now()
	step := func(what string) {
		t.Logf("pluto in %s: %s at %v", ns.Name, what, time.Since(t0).Round(time.Millisecond))
	}
	// Not t.TempDir: the overlay's layers must be on a file system other
	// than the root's (overlayfs refuses overlapping layers), and a tmpfs
	// mounted on the folder is one.
	dir, err := os.MkdirTemp("", Prefix+"pluto-")
	if err != nil {
		t.Fatal(err)
	}
	p := &Pluto{NS: ns, Root: filepath.Join(dir, "root"), t: t}
	// The mounts are system calls, not mount(8): each exec costs a second
	// in the emulated VM.
	mounted := []string{}
	t.Cleanup(func() {
		for i := len(mounted) - 1; i >= 0; i-- {
			if err := unix.Unmount(mounted[i], unix.MNT_DETACH); err != nil {
				t.Errorf("interop: umount %s: %v", mounted[i], err)
			}
		}
		os.RemoveAll(dir)
	})
	mount := func(source, target, fstype string, flags uintptr, data string) {
		t.Helper()
		if err := unix.Mount(source, target, fstype, flags, data); err != nil {
			t.Fatalf("interop: mount %s on %s (%s %s): %v", source, target, fstype, data, err)
		}
		mounted = append(mounted, target)
	}
	mount("tmpfs", dir, "tmpfs", 0, "mode=700")
	for _, d := range []string{"upper", "work", "root"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mount("overlay", p.Root, "overlay", 0, fmt.Sprintf("lowerdir=%s:/,upperdir=%s/upper,workdir=%s/work", lower, dir, dir))
	mount("proc", filepath.Join(p.Root, "proc"), "proc", 0, "")
	mount("/dev", filepath.Join(p.Root, "dev"), "", unix.MS_BIND|unix.MS_REC, "")
	mount("tmpfs", filepath.Join(p.Root, "run"), "tmpfs", 0, "")
	mount("tmpfs", filepath.Join(p.Root, "tmp"), "tmpfs", 0, "")
	for _, d := range []string{"run/pluto", "var/lib/ipsec/nss"} {
		if err := os.MkdirAll(filepath.Join(p.Root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, text string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(p.Root, name), []byte(text), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/ipsec.conf", opt.Conf, 0o644)
	write("etc/ipsec.secrets", opt.Secrets, 0o600)
	// The NSS database is in the lower layer (scripts/kernel-test-libreswan.sh
	// makes it empty): the certificates go to this pluto's upper layer.
	if opt.P12 != "" {
		b, err := os.ReadFile(opt.P12)
		if err != nil {
			t.Fatal(err)
		}
		write("tmp/peer.p12", string(b), 0o600)
		p.mustRoot(t, "pk12util", "-i", "/tmp/peer.p12", "-d", "sql:/var/lib/ipsec/nss", "-W", "", "-K", "")
	}
	if opt.CACert != "" {
		b, err := os.ReadFile(opt.CACert)
		if err != nil {
			t.Fatal(err)
		}
		write("tmp/ca.pem", string(b), 0o644)
		p.mustRoot(t, "certutil", "-A", "-d", "sql:/var/lib/ipsec/nss", "-n", "ca", "-t", "CT,,", "-a", "-i", "/tmp/ca.pem")
	}
	step("certificates imported")
	p.Proc = ns.Start(t, nil, "chroot", p.Root, "/usr/libexec/ipsec/pluto", "--config", "/etc/ipsec.conf", "--nofork", "--stderrlog")
	p.Proc.Name = "pluto"
	// pluto answers once its control socket is there.
	ctl := filepath.Join(p.Root, "run/pluto/pluto.ctl")
	if !Poll(30*time.Second, 100*time.Millisecond, func() bool {
		if _, err := os.Stat(ctl); err != nil {
			return false
		}
		_, err := p.Whack("--status")
		return err == nil
	}) {
		t.Fatalf("interop: pluto in %s does not answer whack after 30 s:\n%s", ns.Name, p.Proc.Output())
	}
	step("pluto answers")
	// addconn in the namespace: it looks at the interfaces and routes.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := ns.Command(ctx, "chroot", p.Root, "/usr/libexec/ipsec/addconn", "--config", "/etc/ipsec.conf", "--autoall").CombinedOutput(); err != nil {
		t.Fatalf("interop: ipsec addconn: %v\n%s\npluto:\n%s", err, out, tail(p.Proc.Output(), 40))
	}
	if out, err := p.Whack("--listen"); err != nil {
		t.Fatalf("interop: ipsec whack --listen: %v\n%s", err, out)
	}
	step("connections added")
	return p
}

// mustRoot runs a command in pluto's root outside the namespace.
func (p *Pluto) mustRoot(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("chroot", append([]string{p.Root}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("interop: %s in pluto's root: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// Ipsec runs `ipsec args...` in pluto's root and namespace.
func (p *Pluto) Ipsec(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := p.NS.Command(ctx, "chroot", append([]string{p.Root, "/usr/sbin/ipsec"}, args...)...).CombinedOutput()
	if err != nil {
		err = fmt.Errorf("ipsec %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), err
}

// Whack runs pluto's whack with args: in pluto's root, outside the
// namespace (it talks to pluto over the control socket only).
func (p *Pluto) Whack(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "chroot", append([]string{p.Root, "/usr/libexec/ipsec/whack"}, args...)...).CombinedOutput()
	if err != nil {
		err = fmt.Errorf("ipsec whack %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), err
}

// Initiate brings connection name up (whack waits for the outcome).
func (p *Pluto) Initiate(name string) error {
	out, err := p.Whack("--name", name, "--initiate")
	if err != nil {
		return err
	}
	// The proof is pluto's own line for the IPsec SA, not whack's exit
	// status alone.
	if !strings.Contains(out, "IPsec SA established") {
		return fmt.Errorf("whack --initiate %s: no IPsec SA established:\n%s", name, out)
	}
	return nil
}

// WriteLog writes pluto's log so far to path (for keycompare).
func (p *Pluto) WriteLog(path string) error {
	return os.WriteFile(path, []byte(p.Proc.Output()), 0o644)
}
