package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/iked/iked/control"
)

// monitor prints the daemon's events as they come until SIGINT or
// SIGTERM (or the daemon stops): one line each, or one JSON object a line
// with -json.
func monitor(socket string, timeout time.Duration, asJSON bool, stdout, stderr io.Writer) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	go func() {
		if _, ok := <-sigs; ok {
			close(done)
		}
	}()
	enc := json.NewEncoder(stdout)
	err := control.Monitor(socket, timeout, done, func(e control.Event) error {
		if asJSON {
			return enc.Encode(e)
		}
		_, err := fmt.Fprintln(stdout, eventLine(e))
		return err
	})
	if err == io.EOF {
		fmt.Fprintln(stderr, "ikectl: the daemon closed the event stream")
		return 1
	}
	if err != nil {
		fmt.Fprintln(stderr, "ikectl:", err)
		return 1
	}
	return 0
}

// eventLine is one event for people: time, kind, the catalog number in
// brackets for a catalog message, the text, then its fields sorted.
func eventLine(e control.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %-10s", e.Time.Local().Format("15:04:05"), e.Kind)
	if e.Catalog != 0 {
		fmt.Fprintf(&b, " [%d] %s:", e.Catalog, e.Level)
	}
	b.WriteString(" " + e.Text)
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", k, e.Fields[k])
	}
	return b.String()
}
