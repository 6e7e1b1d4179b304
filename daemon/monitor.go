package daemon

import (
	"fmt"

	"github.com/iked/iked/control"
	"github.com/iked/iked/notify"
)

// monitorBuffer is how many events a slow ikectl monitor may fall behind
// before it loses some; the daemon never waits for it.
const monitorBuffer = 256

// monitor streams the log's events to one ikectl monitor
// (control.MonitorFunc): a first "start" event, then the lines marked
// with an event (SA up and down) and every catalog message at info level
// or above, whatever the log level; "lost" when the client fell behind.
func (d *Daemon) monitor(stop <-chan struct{}, send func(control.Event) error) {
	sub := d.log.Subscribe(monitorBuffer)
	defer sub.Close()
	// The first event says the subscription is in place: what happens
	// from now on is streamed.
	if send(control.Event{Time: d.clock.Now(), Level: "info", Kind: "start", Text: "monitoring iked " + d.opt.Version}) != nil {
		return
	}
	var lost uint64
	for {
		select {
		case <-stop:
			return
		case e := <-sub.C:
			if n := sub.Dropped(); n != lost {
				if send(control.Event{Time: e.Time, Level: "warning", Kind: "lost",
					Text: fmt.Sprintf("%d events lost: the monitor did not keep up", n-lost)}) != nil {
					return
				}
				lost = n
			}
			if send(eventOf(e)) != nil {
				return
			}
		}
	}
}

func eventOf(e notify.Entry) control.Event {
	ev := control.Event{Time: e.Time, Level: e.Level, Kind: e.Event, Catalog: e.Catalog, Text: e.Text}
	if ev.Kind == "" {
		ev.Kind = "message"
	}
	if len(e.Fields) > 0 {
		ev.Fields = make(map[string]string, len(e.Fields))
		for k, v := range e.Fields {
			ev.Fields[k] = fmt.Sprint(v)
		}
	}
	return ev
}
