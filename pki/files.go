package pki

import (
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// ErrTooLarge says a file is over MaxFileSize; pki never reads more.
// ErrNotRegular says it is not a regular file (a directory, a FIFO, a
// device).
var (
	ErrTooLarge   = errors.New("pki: file larger than the limit")
	ErrNotRegular = errors.New("not a regular file")
)

// ReadBounded reads a whole file of at most MaxFileSize bytes. It opens the
// file once and checks the open descriptor, so what is checked is what is
// read; the FileInfo is that descriptor's (mode and owner as read).
// policymgr reads the policy file with it too.
func ReadBounded(path string) ([]byte, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fi, fmt.Errorf("pki: %s is %w", path, ErrNotRegular)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fi, err
	}
	if len(b) > MaxFileSize {
		return nil, fi, ErrTooLarge
	}
	return b, fi, nil
}

// pemBlocks returns the DER of every PEM block of the given types in b, in
// file order, or nil when b holds no PEM block at all (then b is taken as
// DER). found reports whether any PEM block was seen, of whatever type.
func pemBlocks(b []byte, types ...string) (ders [][]byte, found bool) {
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return ders, found
		}
		found = true
		for _, t := range types {
			if blk.Type == t {
				ders = append(ders, blk.Bytes)
				break
			}
		}
	}
}

// looksLikeDER reports whether b starts like DER: a SEQUENCE tag, the
// shape of a certificate, CRL or key. It tells a binary file worth decoding
// (message 39 if that fails, for instance when it is truncated) from one
// that is plainly not a certificate at all (message 8 alone).
func looksLikeDER(b []byte) bool {
	return len(b) >= 2 && b[0] == 0x30
}

// ErrFileOwner says a file holding a secret (a private key, a pre-shared
// key, a policy file with a key in it) belongs to a user other than root
// and the user the daemon runs as: that user could read or replace it.
type ErrFileOwner struct {
	File string
	UID  uint32
}

func (e *ErrFileOwner) Error() string {
	return fmt.Sprintf("%s belongs to uid %d: a file holding a key must belong to root or to the user iked runs as (uid %d); chown it", e.File, e.UID, os.Geteuid())
}

// CheckOwner returns *ErrFileOwner when fi (the file at path) belongs to
// neither root nor the daemon's effective user.
func CheckOwner(path string, fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		return &ErrFileOwner{File: path, UID: st.Uid}
	}
	return nil
}
