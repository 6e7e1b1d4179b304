// Command ikectl drives a running iked over its control socket.
package main

import (
	"bufio"
	_ "embed"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/iked/iked/control"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// completionScript is bash completion for ikectl (`ikectl completion bash`).
//
//go:embed ikectl.bash
var completionScript string

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: ikectl [-socket PATH] [-json] [-timeout D] COMMAND [NAME] (flags may also follow the command)

commands:
  status             uptime, policy file, counters
  list-sas [CONN|SA] ISAKMP SAs, their exchanges and their IPsec SAs (of one connection, or one SA by its cookie)
  list-conns         connections of the running policy
  list-certs         certificates and CRLs: validity, days to expiry, CRL next update
  list-leases        Mode Config leases: pool, address, identity, user, online or released since
  monitor            stream events (SAs up and down, failures with their message number) until interrupted
  initiate CONN      start the connection
  terminate CONN|SA  delete the SAs of a connection, or one SA by its cookie
  rekey CONN|SA      rekey now the IPsec SAs of a connection, or of one ISAKMP SA by its cookie
  reauth CONN|SA     replace now the ISAKMP SAs of a connection, or one by its cookie, by a new phase 1; the IPsec SAs move over
  reload             reread the policy file (as SIGHUP)
  stats              every counter
  completion bash    print bash completion (source <(ikectl completion bash))
`)
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ikectl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", "/run/iked/iked.sock", "the daemon's control socket (daemon.control-socket)")
	asJSON := fs.Bool("json", false, "print the daemon's answer as JSON")
	timeout := fs.Duration("timeout", control.DefaultTimeout, "how long to wait for the daemon")
	fs.Usage = func() { usage(stderr); fs.PrintDefaults() }
	words, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if len(words) == 0 {
		fs.Usage()
		return 2
	}
	if words[0] == "completion" {
		if len(words) != 2 || words[1] != "bash" {
			fmt.Fprintln(stderr, "ikectl: completion takes one shell: bash")
			return 2
		}
		fmt.Fprint(stdout, completionScript)
		return 0
	}
	req := control.Request{Command: control.Command(words[0])}
	if len(words) > 1 {
		req.Name = words[1]
	}
	if len(words) > 2 {
		fmt.Fprintln(stderr, "ikectl: too many arguments")
		return 2
	}
	if err := req.Validate(); err != nil {
		fmt.Fprintln(stderr, "ikectl:", err)
		usage(stderr)
		return 2
	}
	if req.Command == control.CmdMonitor {
		return monitor(*socket, *timeout, *asJSON, stdout, stderr)
	}
	out := bufio.NewWriterSize(stdout, 64<<10)
	defer out.Flush()
	if *asJSON {
		return printJSON(out, stderr, *socket, req, *timeout)
	}
	var resp *control.Response
	if req.Command == control.CmdListSAs {
		resp, err = listSAs(out, *socket, req, *timeout)
	} else if resp, err = control.Call(*socket, req, *timeout); err == nil {
		printResponse(out, req, resp)
	}
	if err != nil {
		out.Flush()
		fmt.Fprintln(stderr, "ikectl:", err)
		return 1
	}
	if resp.Error != "" {
		out.Flush()
		fmt.Fprintln(stderr, "ikectl:", resp.Error)
		return 1
	}
	return 0
}

// printJSON prints the daemon's answer indented, as encoding/json's
// Encoder with SetIndent("", "  ") prints the Response it decodes to (the
// daemon writes it with encoding/json's rules, control/appendjson.go), but
// as it arrives, without decoding it: the list-sas answer of 100,000 SA
// pairs is over 100 MB (docs/performance.md, "ikectl list-sas at
// scale"). The exit status is 1 when the answer has an error, which
// encoding/json writes first (control.Response's first field).
func printJSON(out *bufio.Writer, stderr io.Writer, socket string, req control.Request, timeout time.Duration) int {
	failed := false
	err := control.CallRaw(socket, req, timeout, func(r *bufio.Reader) error {
		head, _ := r.Peek(len(`{"error":`))
		failed = string(head) == `{"error":`
		return indentJSON(out, r)
	})
	if err != nil {
		out.Flush()
		fmt.Fprintln(stderr, "ikectl:", err)
		return 1
	}
	if failed {
		return 1
	}
	return 0
}

// parseInterleaved parses flags wherever they stand, before or after the
// command and its name (`ikectl list-sas --json`), as people type them;
// the flag package alone stops at the first word. "--" ends the flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var words []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return words, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(words, rest...), nil
		}
		words = append(words, rest[0])
		args = rest[1:]
	}
}

func printResponse(w io.Writer, req control.Request, r *control.Response) {
	for _, m := range r.Messages {
		fmt.Fprintln(w, m)
	}
	switch req.Command {
	case control.CmdStatus:
		if r.Status != nil {
			printStatus(w, r.Status)
		}
	case control.CmdListSAs:
		printSAs(w, r)
	case control.CmdListConns:
		printConns(w, r.Conns)
	case control.CmdListCerts:
		printCerts(w, r.Certs)
	case control.CmdListLeases:
		printLeases(w, r.Leases)
	case control.CmdStats:
		if r.Stats != nil {
			printStats(w, r.Stats)
		}
	case control.CmdReload:
		if r.Error == "" {
			fmt.Fprintln(w, "policy reloaded")
		}
	case control.CmdInitiate:
		if r.Error == "" {
			fmt.Fprintf(w, "initiating %s\n", req.Name)
		}
	}
}

func printStatus(w io.Writer, s *control.Status) {
	t := newTable(w)
	t.row("version", s.Version)
	t.row("pid", fmt.Sprint(s.PID))
	t.row("started", s.Started.Format(time.RFC3339))
	t.row("uptime", s.Uptime.Round(time.Second).String())
	t.row("policy file", s.PolicyFile)
	t.row("policy loaded", s.PolicyLoad.Format(time.RFC3339))
	t.row("engine", s.Engine)
	t.row("listening", strings.Join(s.Listening, " "))
	t.row("connections", fmt.Sprint(s.Conns))
	t.row("ISAKMP SAs", fmt.Sprintf("%d (%d established, %d half-open)", s.ISAKMPSAs, s.Established, s.HalfOpen))
	for _, c := range s.Counters {
		t.row(c.Name, fmt.Sprint(c.Value))
	}
	t.flush()
}

func printConns(w io.Writer, cs []control.Conn) {
	if len(cs) == 0 {
		fmt.Fprintln(w, "no connections")
		return
	}
	t := newTable(w)
	t.row("NAME", "LOCAL", "REMOTE", "LOCAL-GW", "REMOTE-GW", "MODE", "INITIATE", "SAS")
	for _, c := range cs {
		t.row(c.Name, c.LocalAddress, c.RemoteAddress, dash(c.LocalGW), dash(c.RemoteGW), dash(c.Mode), dash(c.Initiate), fmt.Sprint(c.SAs))
	}
	t.flush()
}

func printStats(w io.Writer, s *control.Stats) {
	t := newTable(w)
	group := func(name string, cs []control.Counter) {
		for _, c := range cs {
			t.row(name, c.Name, fmt.Sprint(c.Value))
		}
	}
	t.row("GROUP", "COUNTER", "VALUE")
	group("received", s.Received)
	group("dropped", s.Dropped)
	group("engine", s.Engine)
	group("other", s.Other)
	t.flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printLeases(w io.Writer, ls []control.Lease) {
	if len(ls) == 0 {
		fmt.Fprintln(w, "no leases")
		return
	}
	t := newTable(w)
	t.row("POOL", "ADDRESS", "IDENTITY", "USER", "STATE")
	for _, l := range ls {
		state := "online since " + l.Leased.Format(time.RFC3339)
		if !l.Online {
			state = "released " + l.Released.Format(time.RFC3339)
		}
		t.row(l.Pool, l.Address, l.Identity, dash(l.User), state)
	}
	t.flush()
}
