package xauth

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/iked/iked/xauth/userfile"
)

// File checks passwords against a users file (package userfile: lines
// "name:HASH", bcrypt or argon2id). It notices when the file changes (its
// inode, size, modification or status change time) and reads it again
// before the next check. A file that has become unreadable, malformed,
// readable by others or owned by another user fails closed: every check
// returns the error, not ErrRejected, until the file is right again, so
// that a user removed from the file cannot log in with the old table.
type File struct {
	path string
	// sem bounds the hash computations running at once: an argon2id hash
	// may take tens of MiB, and a burst of logins must not take them all.
	sem chan struct{}

	mu    sync.Mutex
	table *userfile.Table
	stamp fileStamp
	err   error // the last read's error; table is nil then
}

// fileStamp tells one version of the file from another.
type fileStamp struct {
	dev, ino     uint64
	size         int64
	mtime, ctime time.Time
	mode         os.FileMode
	uid          uint32
}

func stampOf(fi os.FileInfo) fileStamp {
	s := fileStamp{size: fi.Size(), mtime: fi.ModTime(), mode: fi.Mode()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.dev, s.ino, s.uid = uint64(st.Dev), st.Ino, st.Uid
		s.ctime = time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
	}
	return s
}

// NewFile reads the users file at path (an absolute path, as the policy
// gives it) and returns the backend; an error when the file cannot be
// used.
func NewFile(path string) (*File, error) {
	f := &File{path: path, sem: make(chan struct{}, runtime.GOMAXPROCS(0))}
	if _, err := f.current(); err != nil {
		return nil, err
	}
	return f, nil
}

// current returns the table of the file as it is now, reading it again
// when it changed since the last read.
func (f *File) current() (*userfile.Table, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fi, err := os.Stat(f.path)
	if err != nil {
		f.table, f.err = nil, fmt.Errorf("users file: %w", err)
		f.stamp = fileStamp{}
		return nil, f.err
	}
	seen := stampOf(fi)
	if (f.table != nil || f.err != nil) && seen == f.stamp {
		return f.table, f.err
	}
	t, read, err := userfile.Read(f.path)
	if err == nil {
		err = t.Prepare()
	}
	if err != nil {
		// Not read again until it changes: the error stands for it.
		f.table, f.err, f.stamp = nil, fmt.Errorf("users file %w", err), seen
		return nil, f.err
	}
	// The stamp of what was read, which may be newer than seen.
	f.table, f.err, f.stamp = t, nil, stampOf(read)
	return t, nil
}

// Check implements Backend.
func (f *File) Check(ctx context.Context, user, password string) error {
	t, err := f.current()
	if err != nil {
		return err
	}
	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	ok := t.Verify(user, []byte(password))
	<-f.sem
	if !ok {
		return fmt.Errorf("user %q: %w", user, ErrRejected)
	}
	return nil
}
