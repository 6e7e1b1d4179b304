// Command ikeload is an IKEv1 initiator load generator built on iked's
// own phase 1 and Quick Mode code: it starts one iked daemon (the stack
// cmd/iked runs, engine none) per source address and port, has each
// initiate SAs to the targets, and reports SAs/s, latency percentiles
// and failures by reason. See docs/performance.md.
//
//	ikeload -target 192.0.2.2 -n 500 -c 50 -group ecp256 -psk secret
//
// It sends only to its targets, and refuses targets outside -allow
// (by default the documentation ranges and loopback).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("ikeload", flag.ContinueOnError)
	var (
		target   = fs.String("target", "", "responder `addresses`: a,b, ranges a-b or prefixes a/n")
		port     = fs.Uint("port", 500, "the responders' IKE `port`")
		source   = fs.String("source", "", "source `addresses` (as -target); default: the address the kernel routes the first target from")
		sport    = fs.Uint("sport", 500, "first source `port` of each source address")
		ports    = fs.Int("ports", 1, "source ports per source address (clients behind one NAT): sport, sport+1, ...")
		total    = fs.Int("n", 100, "SAs to begin (0 with -duration: until it ends)")
		conc     = fs.Int("c", 10, "SAs unfinished at a time, at most")
		rate     = fs.Float64("rate", 0, "SAs begun per second, at most (0: no limit)")
		duration = fs.Duration("duration", 0, "soak: begin SAs for this long (with -n 0, no count limit)")
		mode     = fs.String("mode", "main", "phase 1 `mode`: main or aggressive")
		auth     = fs.String("auth", "psk", "psk or certificate")
		psk      = fs.String("psk", "", "the pre-shared key (or -psk-file)")
		pskFile  = fs.String("psk-file", "", "a `file` holding the pre-shared key")
		cert     = fs.String("cert", "", "our certificate `file` (-auth certificate)")
		key      = fs.String("key", "", "its private key `file` (mode 0600)")
		ca       = fs.String("ca", "", "the CA certificate `file` that certifies the responders")
		localID  = fs.String("local-id", "", "our identity, as in the policy file (ipv4:..., fqdn:..., dn:...)")
		remoteID = fs.String("remote-id", "", "the responders' identity, when it must be one")
		ciphers  = fs.String("cipher", "aes128", "phase 1 `ciphers`, comma-separated")
		hashes   = fs.String("hash", "sha256", "phase 1 `hashes`")
		groups   = fs.String("group", "ecp256", "phase 1 DH `groups` (modp2048, ecp256, ...)")
		qm       = fs.Bool("qm", true, "negotiate one IPsec SA bundle (Quick Mode) on each ISAKMP SA")
		espC     = fs.String("esp-cipher", "aes128", "ESP `ciphers`")
		espH     = fs.String("esp-hmac", "sha256", "ESP `hmacs`")
		pfs      = fs.String("pfs", "", "Quick Mode PFS `group` (default none)")
		retr     = fs.Duration("retransmit", 2*time.Second, "first retransmission wait, doubled each try")
		tries    = fs.Int("tries", 3, "tries of each message before the SA counts as timed out")
		hold     = fs.Duration("hold", 0, "keep the SAs this long after the last one is done, before deleting them at the end")
		halfOpen = fs.Bool("half-open", false, "send only the first message of each phase 1 (the responder holds a half-open SA); they count as timeouts")
		del      = fs.Bool("delete", false, "delete each SA once it is established (a soak run then holds about -c SAs)")
		contact  = fs.Bool("initial-contact", false, "send INITIAL-CONTACT in phase 1, as a peer connecting for the first time does")
		allow    = fs.String("allow", strings.Join(defaultAllow, ","), "the `prefixes` targets may be in")
		nsName   = fs.String("netns", "", "bind in this named network `namespace`")
		dev      = fs.String("dev", "", "add the source addresses to this `interface` (in -netns), removed at the end")
		workers  = fs.Int("workers", 0, "crypto workers per source (0: the number of CPUs)")
		asJSON   = fs.Bool("json", false, "print the report as JSON")
		verbose  = fs.Bool("v", false, "the daemons' error log to standard error")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "ikeload:", err); return 1 }
	cfg := Config{Port: uint16(*port), SourcePort: uint16(*sport), Ports: *ports, Total: *total, Concurrency: *conc,
		Rate: *rate, Duration: *duration, Mode: *mode, Auth: *auth, PSK: *psk, Cert: *cert, Key: *key, CA: *ca,
		LocalID: *localID, RemoteID: *remoteID, Ciphers: split(*ciphers), Hashes: split(*hashes), Groups: split(*groups),
		QuickMode: *qm, ESPCiphers: split(*espC), ESPMAC: split(*espH), PFS: *pfs, Retransmit: *retr, Tries: *tries,
		HalfOpen: *halfOpen, Delete: *del, InitialContact: *contact, Hold: *hold, Netns: *nsName, Dev: *dev, Workers: *workers}
	if *port > 65535 || *sport > 65535 {
		return fail(fmt.Errorf("ports are 1-65535"))
	}
	if *total == 100 && *duration > 0 && !flagSet(fs, "n") {
		cfg.Total = 0
	}
	var err error
	if cfg.Allow, err = parsePrefixes(*allow); err != nil {
		return fail(fmt.Errorf("-allow: %w", err))
	}
	if cfg.Targets, err = parseAddrs(*target, 1024); err != nil {
		return fail(fmt.Errorf("-target: %w", err))
	}
	if *pskFile != "" {
		b, err := os.ReadFile(*pskFile)
		if err != nil {
			return fail(err)
		}
		cfg.PSK = strings.TrimRight(string(b), "\r\n")
	}
	if *auth == "cert" {
		cfg.Auth = "certificate"
	}
	if *source != "" {
		if cfg.Sources, err = parseAddrs(*source, 65536); err != nil {
			return fail(fmt.Errorf("-source: %w", err))
		}
	} else if len(cfg.Targets) > 0 {
		a, err := routedSource(cfg.Netns, cfg.Targets[0])
		if err != nil {
			return fail(fmt.Errorf("no -source given and none routed to %s: %w", cfg.Targets[0], err))
		}
		cfg.Sources = []netip.Addr{a}
	}
	if err := cfg.check(); err != nil {
		return fail(err)
	}
	if cfg.Dev != "" {
		undo, err := addSources(cfg.Netns, cfg.Dev, cfg.Sources)
		defer undo()
		if err != nil {
			return fail(err)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opt := Options{}
	if *verbose {
		opt.Log = os.Stderr
	}
	if cfg.Hold > 0 {
		opt.Holding = func() { fmt.Fprintf(os.Stderr, "ikeload: every SA finished; holding them for %v\n", cfg.Hold) }
	}
	tty := isTerminal(os.Stdout)
	if tty {
		opt.Progress = func(p Progress) { fmt.Fprint(os.Stdout, bar(p)) }
	}
	rep, err := Run(ctx, cfg, opt)
	if tty {
		fmt.Fprintln(os.Stdout)
	}
	if err != nil {
		return fail(err)
	}
	if *asJSON {
		if err := rep.writeJSON(os.Stdout); err != nil {
			return fail(err)
		}
	} else {
		rep.writeText(os.Stdout)
	}
	if rep.Established == 0 {
		return 1
	}
	return 0
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// routedSource asks the kernel (in the namespace) which address it sends
// to target from; a UDP "connect" sends nothing.
func routedSource(ns string, target netip.Addr) (netip.Addr, error) {
	var a netip.Addr
	err := inNamespace(ns, func() error {
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(target, 500)))
		if err != nil {
			return err
		}
		defer c.Close()
		a = c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
		return nil
	})
	return a, err
}
