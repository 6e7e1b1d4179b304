package pki

import (
	"crypto/x509"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/iked/iked/notify"
)

// fileStamp identifies one version of a file: a CRL that a CA's tooling
// replaces (a new inode) or rewrites (a new size or time) is read again.
type fileStamp struct {
	dev, ino uint64
	size     int64
	mtime    time.Time
}

func stampOf(fi os.FileInfo) fileStamp {
	if fi == nil {
		return fileStamp{}
	}
	st := fileStamp{size: fi.Size(), mtime: fi.ModTime()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.dev, st.ino = uint64(sys.Dev), sys.Ino
	}
	return st
}

// crlState is a configured CA's CRL file and the CRL in force. The store
// is shared by the exchanges, so the CRL in force changes under a lock:
// each verification stats the file and reads it again when it changed, so
// that a CRL published between reloads takes effect at the next
// authentication.
type crlState struct {
	file  string
	mu    sync.Mutex
	stamp fileStamp
	cur   *x509.RevocationList
}

// currentCRL returns the CRL of c in force at now, re-read first if its
// file changed. A new file that does not check out (messages 14, 40, 44)
// leaves the previous CRL in force; its messages are returned for the log,
// once for each version of the file. So is the warning of a CRL past its
// nextUpdate, at each verification.
func (c *Cert) currentCRL(now time.Time) (*x509.RevocationList, []notify.Message) {
	st := c.crl
	if st == nil {
		return nil, nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	var msgs []notify.Message
	if fi, err := os.Stat(st.file); err == nil && stampOf(fi) != st.stamp {
		it := Item{Name: c.Name, CRL: st.file, CRLStrict: c.CRLStrict}
		crl, stamp, fs := readCRL(it, c.X509, now)
		for _, f := range fs {
			msgs = append(msgs, f.Msg)
		}
		st.stamp = stamp // a broken file is reported once, until it changes again
		if crl != nil {
			st.cur = crl
			return st.cur, msgs // readCRL warned if it is expired already
		}
	}
	if st.cur != nil && crlExpired(st.cur, now) {
		msgs = append(msgs, crlExpiredMessage(c.Name, st.file, st.cur, c.CRLStrict))
	}
	return st.cur, msgs
}
