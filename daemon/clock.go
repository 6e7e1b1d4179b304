package daemon

import "time"

// Clock is the daemon's only source of time, injected so that tests run
// retransmission and expiry in virtual time.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d; f must only post an
	// event to the loop.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc.
type Timer interface {
	// Stop prevents the call if it has not happened yet.
	Stop() bool
}

// SystemClock is the real clock. Inside a testing/synctest bubble it is
// virtual too, which is how the loop tests use it.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now() }

// AfterFunc waits at least a nanosecond. A timer due at once inside a
// testing/synctest bubble is run by Go 1.26 on the calling goroutine's
// thread under the bubble's one race context (runtime/time.go,
// timer.modify), while the bubble's timer scheduler may use that context
// on another thread; under -race two at once kill the test binary
// ("ThreadSanitizer: CHECK failed: ... slot_locked", or a SIGSEGV in
// __tsan::SlotLock). Outside a bubble a nanosecond changes nothing.
func (SystemClock) AfterFunc(d time.Duration, f func()) Timer {
	return time.AfterFunc(max(d, time.Nanosecond), f)
}
