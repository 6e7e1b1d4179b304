package daemon

import (
	"fmt"
	"strings"
	"time"

	"github.com/iked/iked/notify"
)

// observerBuffer is how many events the observer may fall behind before
// it loses some (counted, logged at the end); the log never waits for it.
const observerBuffer = 8192

// observer follows the log's event stream (the one ikectl monitor reads,
// notify.Subscription) for the metrics counted from events and for the
// updown scripts: it tells an IPsec SA's coming up from its rekey and its
// going down, and keeps the facts of each bundle from its ipsec-up event
// so that its down script gets them too.
type observer struct {
	d    *Daemon
	sub  *notify.Subscription
	stop chan struct{}
	done chan struct{}
	// live are the bundles up, by connection and SPIs; replaced are those
	// a rekey replaced, whose down is not a down of the connection.
	live     map[string]facts
	replaced map[string]bool
	// held are bundles the peer deleted, by pairKey, waiting rekeyGrace
	// for the bundle that replaces them; expired carries the keys whose
	// wait ended.
	held    map[string]heldDown
	expired chan string
}

// heldDown is a bundle the peer deleted, not yet reported down.
type heldDown struct {
	f     facts
	timer *time.Timer
}

// rekeyGrace is how long the peer's Delete of a bundle waits for the
// bundle of the same connection, peer and selectors that a rekey by the
// peer installs: the Delete may arrive before that installation is done.
const rekeyGrace = 2 * time.Second

// facts are an ipsec-up event's fields, as the updown script's
// environment names them.
type facts map[string]string

// maxLiveBundles bounds the observer's table: a down event lost when the
// stream overflowed would otherwise leave its bundle there for good.
const maxLiveBundles = 1 << 16

func (d *Daemon) startObserver() {
	o := &observer{d: d, sub: d.log.Subscribe(observerBuffer), stop: make(chan struct{}), done: make(chan struct{}),
		live: map[string]facts{}, replaced: map[string]bool{}, held: map[string]heldDown{}, expired: make(chan string, 64)}
	d.observer = o
	go o.run()
}

// stopObserver handles what the stream still holds, then waits for the
// updown scripts still running (each bounded by its timeout).
func (d *Daemon) stopObserver() {
	o := d.observer
	if o == nil {
		return
	}
	close(o.stop)
	<-o.done
	o.sub.Close()
	if n := o.sub.Dropped(); n > 0 {
		d.log.Warn(fmt.Sprintf("%d events were lost to the metrics and updown scripts: the observer did not keep up", n))
	}
	d.hooks.wait()
}

func (o *observer) run() {
	defer close(o.done)
	for {
		select {
		case e := <-o.sub.C:
			o.entry(e)
		case k := <-o.expired:
			if h, ok := o.held[k]; ok {
				delete(o.held, k)
				o.report(h.f)
			}
		case <-o.stop:
			for {
				select {
				case e := <-o.sub.C:
					o.entry(e)
				default:
					for k, h := range o.held {
						h.timer.Stop()
						delete(o.held, k)
						o.report(h.f)
					}
					return
				}
			}
		}
	}
}

func (o *observer) entry(e notify.Entry) {
	if e.Catalog != 0 && e.Level != "info" {
		o.d.metrics.countFailure(e.Catalog)
	}
	switch e.Event {
	case notify.EventIPsecUp:
		o.up(e)
	case notify.EventIPsecDown:
		o.down(e)
	}
}

// field returns an event's field as text.
func field(e notify.Entry, k string) string {
	v, ok := e.Fields[k]
	if !ok || v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func bundleKey(conn, spis string) string { return conn + "\x00" + spis }

// pairKey names what a rekey keeps: the connection, the peer and the
// selectors.
func pairKey(f facts) string {
	return strings.Join([]string{f["IKED_CONNECTION"], f["IKED_PEER_GW"], f["IKED_LOCAL_SELECTOR"], f["IKED_REMOTE_SELECTOR"]}, "\x00")
}

func (o *observer) up(e notify.Entry) {
	conn, spis := field(e, "conn"), field(e, "spis")
	f := facts{
		"IKED_CONNECTION":      conn,
		"IKED_ROLE":            field(e, "role"),
		"IKED_LOCAL_GW":        field(e, "local-gw"),
		"IKED_PEER_GW":         field(e, "remote-gw"),
		"IKED_LOCAL_ID":        field(e, "local-id"),
		"IKED_PEER_ID":         field(e, "remote-id"),
		"IKED_LOCAL_SELECTOR":  field(e, "local"),
		"IKED_REMOTE_SELECTOR": field(e, "remote"),
		"IKED_PROTOCOL":        field(e, "protocol"),
		"IKED_SPI_IN":          field(e, "spi-in"),
		"IKED_SPI_OUT":         field(e, "spi-out"),
		"IKED_SPIS":            spis,
		"IKED_REQID":           field(e, "reqid"),
		"IKED_NAT":             "no",
		"IKED_VIRTUAL_IP":      field(e, "virtual-ip"),
	}
	modeConfigFacts(f, field(e, "dns"), field(e, "domain"))
	if v, ok := e.Fields["nat-t"].(bool); ok && v {
		f["IKED_NAT"] = "yes"
	}
	if s, ok := e.Fields["negotiation-seconds"].(float64); ok {
		o.d.metrics.quickMode.Observe(s)
	}
	verb := "up"
	// A rekey: the bundle says which one it replaces (ours), or another
	// bundle of the same connection, peer and selectors is up (the peer's;
	// its Delete of the old one follows) or was just deleted by the peer.
	old := field(e, "rekeys")
	if h, ok := o.held[pairKey(f)]; ok && old == "" {
		h.timer.Stop()
		delete(o.held, pairKey(f))
		f["IKED_OLD_SPIS"] = h.f["IKED_SPIS"]
		o.live[bundleKey(conn, spis)] = f
		o.d.metrics.countEvent(conn, "rekey")
		o.d.hooks.run("rekey", f)
		return
	}
	if old != "" {
		if _, ok := o.live[bundleKey(conn, old)]; !ok {
			old = ""
		}
	}
	if old == "" {
		pk := pairKey(f)
		for _, g := range o.live {
			if pairKey(g) == pk && g["IKED_SPIS"] != spis {
				old = g["IKED_SPIS"]
				break
			}
		}
	}
	if old != "" {
		verb = "rekey"
		f["IKED_OLD_SPIS"] = old
		delete(o.live, bundleKey(conn, old))
		if len(o.replaced) < maxLiveBundles {
			o.replaced[bundleKey(conn, old)] = true
		}
	}
	if len(o.live) < maxLiveBundles {
		o.live[bundleKey(conn, spis)] = f
	}
	o.d.metrics.countEvent(conn, verb)
	o.d.hooks.run(verb, f)
}

func (o *observer) down(e notify.Entry) {
	conn, spis := field(e, "conn"), field(e, "spis")
	k := bundleKey(conn, spis)
	if o.replaced[k] {
		delete(o.replaced, k)
		return
	}
	f, ok := o.live[k]
	if !ok {
		f = facts{"IKED_CONNECTION": conn, "IKED_SPIS": spis}
	}
	delete(o.live, k)
	f["IKED_REASON"] = field(e, "reason")
	if pk := pairKey(f); ok && f["IKED_REASON"] == "peer-deleted" && o.held[pk].timer == nil && len(o.held) < maxLiveBundles {
		o.held[pk] = heldDown{f: f, timer: time.AfterFunc(rekeyGrace, func() {
			select {
			case o.expired <- pk:
			case <-o.done:
			}
		})}
		return
	}
	o.report(f)
}

// report counts a bundle's down and runs its script.
func (o *observer) report(f facts) {
	o.d.metrics.countEvent(f["IKED_CONNECTION"], "down")
	o.d.hooks.run("down", f)
}

// observeIfWanted starts the observer once something needs it: an
// unwatched daemon does not pay for the event stream.
func (d *Daemon) observeIfWanted() {
	if d.observer != nil {
		return
	}
	if m := d.hooks.conf.Load(); d.settings.MetricsListen != "" || (m != nil && len(*m) > 0) {
		d.startObserver()
	}
}

// modeConfigFacts adds what a Mode Config client was given to its
// script's facts, numbered per family as strongSwan's updown names them
// (PLUTO_DNS4_1, ...): IKED_DNS4_1, IKED_DNS6_1, ..., and IKED_DOMAIN.
func modeConfigFacts(f facts, dns, domain string) {
	n4, n6 := 0, 0
	for _, s := range strings.Fields(dns) {
		if strings.Contains(s, ":") {
			n6++
			f[fmt.Sprintf("IKED_DNS6_%d", n6)] = s
		} else {
			n4++
			f[fmt.Sprintf("IKED_DNS4_%d", n4)] = s
		}
	}
	f["IKED_DOMAIN"] = domain
}
