package daemon

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
)

// hooks run the connections' updown scripts (docs/policy-file.md,
// updown): asynchronously, one at a time per connection so that a
// connection's up, rekey and down arrive in order, each killed with its
// process group at the connection's updown-timeout, its exit status and
// output logged.
type hooks struct {
	log    *notify.Logger
	conf   atomic.Pointer[map[string]hookConf]
	mu     sync.Mutex
	queues map[string][]hookJob // per connection, the first one running
	wg     sync.WaitGroup
}

type hookConf struct {
	script  string
	timeout time.Duration
}

type hookJob struct {
	conf hookConf
	verb string
	env  []string
}

// maxHookOutput is how much of a script's output is logged.
const maxHookOutput = 4096

// hookPath is the PATH a script runs with; the rest of its environment is
// IKED_VERB and the facts of the bundle.
const hookPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func newHooks(log *notify.Logger) *hooks { return &hooks{log: log, queues: map[string][]hookJob{}} }

// configure takes the scripts of a newly loaded policy.
func (h *hooks) configure(p *policymgr.Policy) {
	m := map[string]hookConf{}
	if p != nil {
		for _, c := range p.Connections {
			if c.Updown != "" {
				m[c.Name] = hookConf{script: c.Updown, timeout: c.UpdownTimeout}
			}
		}
	}
	h.conf.Store(&m)
}

// run queues the connection's script, if it has one, for verb (up, rekey,
// down) with the facts f.
func (h *hooks) run(verb string, f facts) {
	conn := f["IKED_CONNECTION"]
	m := h.conf.Load()
	if m == nil {
		return
	}
	conf, ok := (*m)[conn]
	if !ok {
		return
	}
	env := []string{hookPath, "IKED_VERB=" + verb}
	for k, v := range f {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	sort.Strings(env[2:])
	job := hookJob{conf: conf, verb: verb, env: env}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.queues[conn] = append(h.queues[conn], job)
	if len(h.queues[conn]) == 1 {
		h.wg.Add(1)
		go h.drain(conn)
	}
}

// drain runs conn's queued scripts until none is left.
func (h *hooks) drain(conn string) {
	defer h.wg.Done()
	for {
		h.mu.Lock()
		job := h.queues[conn][0]
		h.mu.Unlock()
		h.exec(conn, job)
		h.mu.Lock()
		q := h.queues[conn][1:]
		if len(q) == 0 {
			delete(h.queues, conn)
			h.mu.Unlock()
			return
		}
		h.queues[conn] = q
		h.mu.Unlock()
	}
}

// limitedBuffer keeps the first maxHookOutput bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	cut bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := maxHookOutput - b.buf.Len(); room < len(p) {
		b.buf.Write(p[:max(room, 0)])
		b.cut = true
	} else {
		b.buf.Write(p)
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if b.cut {
		s += "[...]"
	}
	return s
}

func (h *hooks) exec(conn string, job hookJob) {
	ctx, cancel := context.WithTimeout(context.Background(), job.conf.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, job.conf.script, job.verb)
	cmd.Env = job.env
	cmd.Dir = "/"
	var out limitedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// The script's children go with it at the timeout: they are in its
	// process group, and their holding the output open does not keep us
	// waiting past WaitDelay.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	began := time.Now()
	err := cmd.Run()
	fields := []zap.Field{zap.String("conn", conn), zap.String("verb", job.verb), zap.String("script", job.conf.script),
		zap.Duration("took", time.Since(began)), zap.String("output", out.String())}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		h.log.Warn("updown script killed at its timeout", append(fields, zap.Duration("timeout", job.conf.timeout))...)
	case err == nil:
		h.log.Info("updown script ran", append(fields, zap.Int("status", 0))...)
	case errors.As(err, &exit):
		h.log.Warn("updown script failed", append(fields, zap.Int("status", exit.ExitCode()))...)
	default:
		h.log.Warn("updown script did not run", append(fields, zap.Error(err))...)
	}
}

// wait returns once every queued script has finished.
func (h *hooks) wait() { h.wg.Wait() }
