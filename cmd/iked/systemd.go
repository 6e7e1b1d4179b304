package main

import (
	"fmt"
	"os"
	"syscall"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/notify"
)

// The service manager's side of the daemon (sd_notify(3), systemd.service(5)
// Type=notify): READY=1 once the policy, the engine and the sockets are up;
// RELOADING=1 then READY=1 around a SIGHUP reload; STOPPING=1 when a stop
// begins; WATCHDOG=1 while the event loop answers, when the unit sets
// WatchdogSec=. Without NOTIFY_SOCKET every notification is a no-op.

// sdNotify sends one state to the service manager; a failure is logged,
// never fatal: the daemon works without a manager.
func sdNotify(log *notify.Logger, state string) {
	if _, err := sd.SdNotify(false, state); err != nil {
		log.Warn("service manager notification failed", zap.String("state", state), zap.Error(err))
	}
}

// reloading is RELOADING=1 with the CLOCK_MONOTONIC time systemd 253 and
// later want beside it (sd_notify(3), MONOTONIC_USEC=).
func reloading() string {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return fmt.Sprintf("%s\nMONOTONIC_USEC=%d", sd.SdNotifyReloading, ts.Nano()/1000)
}

// serve starts d, then turns signals into reloads and a stop, telling the
// service manager each step, as daemon.Run does without one.
func serve(d *daemon.Daemon, log *notify.Logger, sigs <-chan os.Signal) error {
	if err := d.Start(); err != nil {
		return err
	}
	sdNotify(log, sd.SdNotifyReady+"\nSTATUS=running")
	stopWatchdog := watchdog(d, log)
	for s := range sigs {
		if s == syscall.SIGHUP {
			sdNotify(log, reloading())
			_, ok := d.Reload()
			status := "running"
			if !ok {
				status = "running; the last reload was refused"
			}
			sdNotify(log, sd.SdNotifyReady+"\nSTATUS="+status)
			continue
		}
		break
	}
	sdNotify(log, sd.SdNotifyStopping)
	stopWatchdog()
	d.Stop()
	return nil
}

// watchdog pings the service manager at half the WATCHDOG_USEC interval,
// each time after the event loop answered a status request: a loop that
// hangs stops the pings, and the manager restarts the service.
func watchdog(d *daemon.Daemon, log *notify.Logger) (stop func()) {
	interval, err := sd.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("WATCHDOG_USEC not understood; no watchdog", zap.Error(err))
	}
	if err != nil || interval <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(interval / 2)
		defer t.Stop()
		for {
			if resp := d.Control(control.Request{Command: control.CmdStatus}); resp.Error == "" {
				sdNotify(log, sd.SdNotifyWatchdog)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done) }
}
