package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/vishvananda/netlink"
)

var (
	ikeloadOnce sync.Once
	ikeloadBin  string
	ikeloadErr  error
)

// ikeloadBinary is cmd/ikeload: from IKED_BIN_DIR when set (the kernel-test
// VM, where go build is slow), else built once into a folder removed when
// the test ends.
func ikeloadBinary(t *testing.T) string {
	t.Helper()
	ikeloadOnce.Do(func() {
		if dir := os.Getenv("IKED_BIN_DIR"); dir != "" {
			ikeloadBin = filepath.Join(dir, "ikeload")
			if _, err := os.Stat(ikeloadBin); err != nil {
				ikeloadErr = fmt.Errorf("IKED_BIN_DIR: %w", err)
			}
			return
		}
		dir, err := os.MkdirTemp("", Prefix+"ikeload-")
		if err != nil {
			ikeloadErr = err
			return
		}
		goCmd, err := exec.LookPath("go")
		if err != nil {
			goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		ikeloadBin = filepath.Join(dir, "ikeload")
		if out, err := exec.CommandContext(ctx, goCmd, "build", "-o", ikeloadBin, "github.com/iked/iked/cmd/ikeload").CombinedOutput(); err != nil {
			ikeloadErr = fmt.Errorf("go build ./cmd/ikeload: %v\n%s", err, out)
		}
	})
	if ikeloadErr != nil {
		t.Fatalf("interop: %v", ikeloadErr)
	}
	if os.Getenv("IKED_BIN_DIR") == "" {
		t.Cleanup(func() { os.RemoveAll(filepath.Dir(ikeloadBin)) })
	}
	return ikeloadBin
}

// scrapeIn fetches iked's /metrics at addr from inside ns and returns each
// sample's value by its name and labels as the text format writes them
// (`iked_ipsec_sas{state="installed"}`), and how long the answer took.
func scrapeIn(ns *Namespace, addr string) (map[string]float64, time.Duration, error) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			var c net.Conn
			err := ns.Do(func() (err error) {
				c, err = (&net.Dialer{}).DialContext(ctx, network, a)
				return err
			})
			return c, err
		},
	}}
	began := time.Now()
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	took := time.Since(began)
	if err != nil {
		return nil, took, err
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			key := name
			if len(ls) > 0 {
				key += "{" + strings.Join(ls, ",") + "}"
			}
			switch {
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			}
		}
	}
	return out, took, nil
}

// ikeloadReport is the part of ikeload's -json report (cmd/ikeload/report.go)
// the scale scenario reads.
type ikeloadReport struct {
	Established int            `json:"established"`
	Failed      int            `json:"failed"`
	Unfinished  int            `json:"unfinished"`
	Seconds     float64        `json:"seconds"`
	Rate        float64        `json:"sas_per_second"`
	Failures    map[string]int `json:"failures"`
	Latency     struct {
		P99 float64 `json:"p99"`
	} `json:"latency_ms"`
}

// TestKernelScale: scenario 18. ikeload opens N Main Mode PSK SAs, each
// with one Quick Mode bundle (ESP, transport mode), from N source
// addresses at once, to iked with the xfrm engine in a kernel with ESP.
// While ikeload holds them, iked's kernel has exactly the two SAs of every
// bundle and an inbound and an outbound policy for every source; when
// ikeload ends it deletes them all at once, and iked takes every SA and
// policy out again (the SAD and SPD as before ikeload started), logs no
// warning or error on the way (no engine queue overflow, no failed
// installation), and leaves nothing after SIGTERM. While they are held,
// five Prometheus scrapes count them and ikectl list-sas lists them with
// the kernel's byte counter of each SA (their times are reported).
// KT_SCALE_N sets N (default 200, at most 250).
func TestKernelScale(t *testing.T) {
	line := kernelScenario(t, "18/scale")
	n := 200
	if v := os.Getenv("KT_SCALE_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 250 {
			t.Fatalf("KT_SCALE_N=%q: want 1 to 250", v)
		}
	}
	load := ikeloadBinary(t)
	p := NewPair(t)
	// The clients are 198.51.100.1-N on B's link; A reaches them through B.
	p.A.NS.MustRun("ip", "route", "add", "198.51.100.0/24", "via", p.B.Addr.String())
	psk := randomPSK()
	before := kernelState(t, p.A.NS)
	k := startIkedDebug(t, p.A.NS, "info", func(sock string) string {
		return fmt.Sprintf(`# generated by interop/kernel_scale_test.go
daemon:
  listen: [%[1]q]
  natt-port: 0
  engine: xfrm
  control-socket: %[2]q
  log: {level: info, format: json}
  metrics: {listen: "127.0.0.1:9772"}
transforms:
  ike: {protocol: isakmp, ciphers: [aes128], hashes: [sha256], groups: [ecp256]}
  esp: {protocol: esp, ciphers: [aes128], hmacs: [sha256]}
proposals:
  esp: [esp]
proposal-lists:
  qm: [esp]
connections:
  clients:
    local-address: %[1]s
    initiate: never
    proposal-list: qm
    ike: {mode: main, transforms: [ike], auth: psk, psk: %[3]q}
`, p.A.Addr, sock, psk)
	})
	// With iked running, its IKE sockets' bypass policies are in the SPD.
	idle := kernelState(t, p.A.NS)

	const hold = 15 * time.Second
	last := netip.MustParseAddr("198.51.100.0")
	for range n {
		last = last.Next()
	}
	cmd := exec.Command(load, "-netns", p.B.NS.Name, "-dev", p.B.Link,
		"-source", "198.51.100.1-"+last.String(), "-target", p.A.Addr.String(),
		"-n", strconv.Itoa(n), "-c", "25", "-group", "ecp256", "-psk", psk,
		"-retransmit", "2s", "-tries", "4", "-hold", hold.String(), "-json")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-done
		}
	})

	// Held: two SAs per bundle, one pair per client, and its policies.
	var sas []KernelSA
	var up time.Duration
	ok := Poll(hold+2*time.Minute, 200*time.Millisecond, func() bool {
		var err error
		if sas, err = p.A.NS.XfrmStates(); err != nil {
			t.Fatal(err)
		}
		return len(sas) >= 2*n
	})
	up = time.Since(start)
	if !ok {
		t.Fatalf("iked's kernel has %d SAs, want %d\nikeload: %s\n%s\niked:\n%s", len(sas), 2*n, stdout.String(), stderr.String(), k.catalogSummary())
	}
	in, out := map[netip.Addr]int{}, map[netip.Addr]int{}
	for _, sa := range sas {
		switch {
		case sa.Proto != "esp" || sa.Mode != "transport":
			t.Errorf("SA %v: %s in %s mode, want esp in transport mode", sa, sa.Proto, sa.Mode)
		case sa.Dst == p.A.Addr:
			in[sa.Src]++
		case sa.Src == p.A.Addr:
			out[sa.Dst]++
		default:
			t.Errorf("SA %v is not between iked and a client", sa)
		}
	}
	pols, err := p.A.NS.XfrmPolicyList()
	if err != nil {
		t.Fatal(err)
	}
	polIn, polOut := map[netip.Addr]int{}, map[netip.Addr]int{}
	for _, po := range pols {
		if po.Src == nil || po.Dst == nil {
			continue
		}
		src, _ := netip.AddrFromSlice(po.Src.IP)
		dst, _ := netip.AddrFromSlice(po.Dst.IP)
		switch po.Dir {
		case netlink.XFRM_DIR_IN:
			polIn[src.Unmap()]++
		case netlink.XFRM_DIR_OUT:
			polOut[dst.Unmap()]++
		}
	}
	for c := netip.MustParseAddr("198.51.100.1"); c.Compare(last) <= 0; c = c.Next() {
		if in[c] != 1 || out[c] != 1 || polIn[c] != 1 || polOut[c] != 1 {
			t.Errorf("client %s: %d inbound and %d outbound SAs, %d inbound and %d outbound policies; want one of each", c, in[c], out[c], polIn[c], polOut[c])
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	// A Prometheus scrape counts them, on iked's loop, without asking the
	// kernel for each SA's counters.
	var scrapes []time.Duration
	for range 5 {
		m, took, err := scrapeIn(p.A.NS, "127.0.0.1:9772")
		if err != nil {
			t.Fatalf("metrics: %v", err)
		}
		scrapes = append(scrapes, took)
		for key, v := range map[string]float64{
			`iked_isakmp_sas{state="established"}`: float64(n), `iked_ipsec_sas{state="installed"}`: float64(n),
			`iked_connection_ipsec_sas{conn="clients"}`: float64(n),
		} {
			if m[key] != v {
				t.Fatalf("metrics: %s = %v, want %v", key, m[key], v)
			}
		}
	}
	slices.Sort(scrapes)
	// So does ikectl list-sas, each IPsec SA with the kernel's byte
	// counter, taken in one XFRM_MSG_GETSA dump (stack.Counters). A few
	// pings to two clients give their outbound SAs counts the kernel
	// made (the clients, holding no SAs, do not answer): the listing must
	// give each SA what `ip -s xfrm state` gives it.
	pinged := map[netip.Addr]int{netip.MustParseAddr("198.51.100.1"): 3, last: 1}
	for c, count := range pinged {
		if sent, _, err := p.A.Ping(p.A.Addr, c, count, 100*time.Millisecond); err != nil || sent != count {
			t.Fatalf("ping %s: %d sent, %v", c, sent, err)
		}
	}
	listed := time.Now()
	list, err := k.ListSAs()
	listTook := time.Since(listed)
	if err != nil {
		t.Fatalf("list-sas: %v", err)
	}
	if sas, err = p.A.NS.XfrmStates(); err != nil {
		t.Fatal(err)
	}
	kernelBytes := map[string]uint64{}
	for _, sa := range sas {
		kernelBytes[fmt.Sprintf("%s 0x%08x %s", sa.Proto, sa.SPI, sa.Dst)] = sa.Bytes
	}
	counted, nonzero := 0, map[string]uint64{}
	for _, sa := range list {
		for _, ch := range sa.Children {
			for _, s := range ch.SAs {
				if s.Bytes == nil {
					continue
				}
				counted++
				key := s.Protocol + " " + s.SPI + " " + s.Dst
				if want, ok := kernelBytes[key]; !ok || *s.Bytes != want {
					t.Errorf("list-sas: %s %s: %d bytes, the kernel counted %d (%v)", s.Direction, key, *s.Bytes, want, ok)
				}
				if *s.Bytes != 0 {
					nonzero[s.Direction+" "+s.Dst] = *s.Bytes
				}
			}
		}
	}
	if len(list) != n || counted != 2*n {
		t.Fatalf("list-sas: %d ISAKMP SAs, %d IPsec SAs with a byte counter; want %d and %d", len(list), counted, n, 2*n)
	}
	for c := range pinged {
		if nonzero["out "+c.String()] == 0 {
			t.Errorf("list-sas: the outbound SA to %s, pinged, counted no bytes", c)
		}
	}
	if len(nonzero) != len(pinged) {
		t.Errorf("list-sas: SAs with traffic %v, want the outbound SAs to %v", nonzero, slices.Collect(maps.Keys(pinged)))
	}

	// ikeload ends after its hold and deletes everything at once.
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ikeload: %v\n%s\n%s", err, stdout.String(), stderr.String())
		}
	case <-time.After(hold + 2*time.Minute):
		t.Fatalf("ikeload still running %v after its SAs were up\n%s", hold+2*time.Minute, stderr.String())
	}
	deleted := time.Now()
	var rep ikeloadReport
	if err := json.Unmarshal([]byte(stdout.String()), &rep); err != nil {
		t.Fatalf("ikeload's report: %v\n%s", err, stdout.String())
	}
	if rep.Established != n || rep.Failed != 0 || rep.Unfinished != 0 {
		t.Fatalf("ikeload: %d established, %d failed (%v), %d unfinished; want %d established", rep.Established, rep.Failed, rep.Failures, rep.Unfinished, n)
	}
	var left string
	if !Poll(time.Minute, 200*time.Millisecond, func() bool {
		left = kernelState(t, p.A.NS)
		return left == idle
	}) {
		t.Fatalf("after ikeload's Deletes iked's kernel still holds:\n%s\nbefore ikeload started:\n%s\niked:\n%s", left, idle, k.catalogSummary())
	}
	gone := time.Since(deleted)
	for _, l := range k.Lines() {
		if l.Level == "warn" || l.Level == "warning" || l.Level == "error" {
			t.Errorf("iked logged at %s: %s (catalog %d)", l.Level, l.Msg, l.Catalog)
		}
	}
	if err := k.Proc.Stop(10 * time.Second); err != nil {
		t.Errorf("iked did not stop cleanly: %v", err)
	}
	if after := kernelState(t, p.A.NS); after != before {
		t.Errorf("iked left kernel state after SIGTERM:\n%s", after)
	}
	*line = fmt.Sprintf("%d SA pairs from %d clients: %d SAs and %d policies in the kernel %v after the start (ikeload %.1f pairs/s, p99 %.0f ms); metrics scrape median %v, slowest %v; list-sas %v; the clients' Deletes took them all out in %v",
		n, n, len(sas), len(polIn)+len(polOut), up.Round(100*time.Millisecond), rep.Rate, rep.Latency.P99,
		scrapes[len(scrapes)/2].Round(100*time.Microsecond), scrapes[len(scrapes)-1].Round(100*time.Microsecond),
		listTook.Round(100*time.Microsecond), gone.Round(100*time.Millisecond))
}
