package notify

import (
	"sync"

	"go.uber.org/zap"
)

// Fields is a reusable slice of log fields, for the lines written for
// every SA set up ("ISAKMP SA established", "IPsec SA established": some
// twenty fields, over a kilobyte each line, made again for every SA pair
// at the default level; docs/performance.md). Take one with NewFields,
// append to F, log, and Free it once the line is written: the cores of
// this package (console, journal, syslog, the monitor hub) encode a line's
// fields while it is written and keep none of them. The fields are an
// SA's public facts (addresses, identities, algorithms, SPIs), never a
// key, and Free clears them.
type Fields struct{ F []zap.Field }

var fieldsPool = sync.Pool{New: func() any { return &Fields{F: make([]zap.Field, 0, 32)} }}

// NewFields returns an empty Fields from a pool.
func NewFields() *Fields { return fieldsPool.Get().(*Fields) }

// Free clears f and returns it to the pool; f must not be used after.
func (f *Fields) Free() {
	clear(f.F)
	f.F = f.F[:0]
	fieldsPool.Put(f)
}
