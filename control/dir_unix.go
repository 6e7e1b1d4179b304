//go:build unix

package control

import (
	"fmt"
	"os"
	"syscall"
)

// checkDir refuses a socket directory that another user could use to
// replace the socket (write permission for group or others, or another
// owner than root and the daemon's user): ikectl would then talk to a
// socket of theirs, and iked's commands reach whoever binds it.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("control: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("control: %s is not a directory", dir)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("control: the socket's directory %s has mode %04o: group or others may replace the socket; chmod go-w %s (or use a directory of its own, mode 0700)", dir, uint32(perm), dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("control: the socket's directory %s belongs to uid %d, neither root nor the daemon's user (uid %d)", dir, st.Uid, os.Geteuid())
	}
	return nil
}
