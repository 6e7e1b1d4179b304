package engine

// Backend is an IPsec stack the engine drives: the Linux kernel through XFRM
// (engine/xfrm) or memory (engine/memory). Its calls may block; only the
// Engine's worker calls them, one at a time, so a backend needs no locking
// for them (Notifications is read by another goroutine).
//
// Every call that installs several objects is all or nothing: on failure
// the backend removes what it had put in before returning the error.
type Backend interface {
	// Name is the policy file's word for the backend ("xfrm", "none").
	Name() string
	// Open connects to the IPsec stack and starts its kernel monitor.
	Open() error
	// AllocSPI reserves an unused inbound SPI in r.Range().
	AllocSPI(r *AllocSPI) (uint32, error)
	// Install puts in every SA of a validated bundle, inbound first.
	Install(b *Bundle) error
	// Delete removes SAs; it tries them all and reports the first failure.
	Delete(refs []SARef) error
	// InstallPolicies puts in validated policies.
	InstallPolicies(ps []Policy) error
	// RemovePolicies removes policies; it tries them all.
	RemovePolicies(ps []Policy) error
	// Flush removes every SA, SPI reservation and policy this backend put
	// in, and nothing else (other daemons may share the kernel).
	Flush() error
	// Notifications carries what the stack reports on its own: ACQUIRE,
	// EXPIRE, monitor errors. It is closed by Close.
	Notifications() <-chan Event
	// Close stops the monitor and releases the connection; it does not
	// flush (Detach does).
	Close() error
}
