package notify

import (
	"fmt"
	"io"
	"log/syslog"
	"os"
	"strings"
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// iked's levels on zap's scale. zap has no room between Info and Warn, so
// iked shifts the scale down by one: syslog's notice sits where zap's info
// is, and the explicit keys level sits below debug.
const (
	zapKeys    = zapcore.Level(-3)
	zapDebug   = zapcore.Level(-2)
	zapInfo    = zapcore.Level(-1)
	zapNotice  = zapcore.Level(0)
	zapWarning = zapcore.Level(1)
	zapError   = zapcore.Level(2)
)

var levelNames = map[zapcore.Level]string{
	zapKeys: "keys", zapDebug: "debug", zapInfo: "info",
	zapNotice: "notice", zapWarning: "warning", zapError: "error",
}

func (l Level) zap() zapcore.Level {
	switch l {
	case LevelInfo:
		return zapInfo
	case LevelNotice:
		return zapNotice
	case LevelWarning:
		return zapWarning
	}
	return zapError
}

// LogConfig is the policy file's daemon.log section.
type LogConfig struct {
	Level  string // keys, debug, info, notice, warning, error
	Format string // console or json
	Syslog bool   // also send to syslog, facility daemon
	// Journal sends entries to the systemd journal with native fields
	// (journal.go) instead of writing lines: for a service whose standard
	// error is the journal (JournalStream).
	Journal bool
}

// levelAliases are other spellings operators type for a level: zap's and
// most loggers' "warn" for syslog's "warning".
var levelAliases = map[string]string{"warn": "warning"}

// ParseLevel turns a level name from the policy file into zap's scale.
func ParseLevel(name string) (zapcore.Level, error) {
	if canonical, ok := levelAliases[name]; ok {
		name = canonical
	}
	for l, n := range levelNames {
		if n == name {
			return l, nil
		}
	}
	return 0, fmt.Errorf("unknown log level %q (keys, debug, info, notice, warning or warn, error)", name)
}

// Logger writes catalog messages and the daemon's own diagnostics. Its level
// can be changed while running (a reload changes daemon.log.level).
type Logger struct {
	z     *zap.Logger
	level zap.AtomicLevel
	hub   *hub // subscriptions of ikectl monitor (monitor.go)
	// warned is set when NewLogger gave the keys warning, so that the
	// daemon's first SetLevel to keys at start does not repeat it.
	warned *atomic.Bool
}

// KeysWarning is logged, at warning level, whenever the keys level is
// turned on: at start and on each reload that keeps it.
const KeysWarning = "log level keys: secret keys (SKEYID, Ka, IPsec keys) are written to the console log, never to syslog; use it only to debug and lower the level after"

func encodeLevel(l zapcore.Level, enc zapcore.PrimitiveArrayEncoder) {
	if n, ok := levelNames[l]; ok {
		enc.AppendString(n)
		return
	}
	enc.AppendString(l.String())
}

func encoderConfig() zapcore.EncoderConfig {
	cfg := zap.NewProductionEncoderConfig()
	cfg.TimeKey = "time"
	cfg.EncodeTime = zapcore.ISO8601TimeEncoder
	cfg.EncodeLevel = encodeLevel
	cfg.CallerKey = ""
	cfg.StacktraceKey = ""
	return cfg
}

// NewLogger builds a logger writing to w (the console: standard error when
// w is nil; a Buffered for a busy daemon, written out at each error), or to the journal when cfg.Journal is set, and, when
// cfg.Syslog is set, to syslog with facility daemon.
func NewLogger(cfg LogConfig, w io.Writer) (*Logger, error) {
	var sw *syslog.Writer
	if cfg.Syslog {
		var err error
		if sw, err = syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "iked"); err != nil {
			return nil, fmt.Errorf("syslog: %w", err)
		}
	}
	return newLogger(cfg, w, sw)
}

// newLogger is NewLogger with the syslog writer given (nil: none).
func newLogger(cfg LogConfig, w io.Writer, sw *syslog.Writer) (*Logger, error) {
	if w == nil {
		w = os.Stderr
	}
	name := cfg.Level
	if name == "" {
		name = "info"
	}
	lvl, err := ParseLevel(name)
	if err != nil {
		return nil, err
	}
	atom := zap.NewAtomicLevelAt(lvl)
	var enc zapcore.Encoder
	switch cfg.Format {
	case "", "console":
		enc = zapcore.NewConsoleEncoder(encoderConfig())
	case "json":
		enc = zapcore.NewJSONEncoder(encoderConfig())
	default:
		return nil, fmt.Errorf("unknown log format %q (console, json)", cfg.Format)
	}
	core := zapcore.NewCore(enc, zapcore.AddSync(w), atom)
	if _, ok := w.(*Buffered); ok {
		core = &flushAbove{Core: core, level: zapError}
	}
	if cfg.Journal {
		core = newJournalCore(atom)
	}
	h := newHub()
	core = zapcore.NewTee(core, &hubCore{hub: h})
	if sw != nil {
		core = zapcore.NewTee(core, newSyslogCore(sw, atom))
	}
	l := &Logger{z: zap.New(core), level: atom, hub: h, warned: &atomic.Bool{}}
	if lvl == zapKeys {
		l.Warn(KeysWarning)
		l.warned.Store(true)
	}
	return l, nil
}

// Nop returns a logger that writes nothing, for tests that do not look.
func Nop() *Logger {
	return &Logger{z: zap.NewNop(), level: zap.NewAtomicLevel(), hub: newHub(), warned: &atomic.Bool{}}
}

// SetLevel changes the level of a running logger. Setting keys logs
// KeysWarning, except on the first call after NewLogger already did.
func (l *Logger) SetLevel(name string) error {
	lvl, err := ParseLevel(name)
	if err != nil {
		return err
	}
	l.level.SetLevel(lvl)
	if lvl == zapKeys && !l.warned.Swap(false) {
		l.Warn(KeysWarning)
	} else {
		l.warned.Store(false)
	}
	return nil
}

// KeysEnabled reports whether the explicit keys level is on, so callers can
// skip formatting secrets that would not be written anyway.
func (l *Logger) KeysEnabled() bool { return l.level.Enabled(zapKeys) }

// Emit logs a catalog message at its level; the message number goes in a
// field so that it can be filtered on without matching the text.
func (l *Logger) Emit(m Message, fields ...zap.Field) {
	if ce := l.z.Check(m.Level.zap(), m.Text); ce != nil {
		ce.Write(append([]zap.Field{zap.Int("catalog", m.Num)}, fields...)...)
	}
}

// Debug logs a diagnostic that is not in the catalog.
func (l *Logger) Debug(text string, fields ...zap.Field) { l.log(zapDebug, text, fields) }

// Info logs a diagnostic that is not in the catalog at info level.
func (l *Logger) Info(text string, fields ...zap.Field) { l.log(zapInfo, text, fields) }

// Notice logs a diagnostic that is not in the catalog at notice level.
func (l *Logger) Notice(text string, fields ...zap.Field) { l.log(zapNotice, text, fields) }

// Warn logs a diagnostic that is not in the catalog at warning level.
func (l *Logger) Warn(text string, fields ...zap.Field) { l.log(zapWarning, text, fields) }

// Error logs a diagnostic that is not in the catalog at error level.
func (l *Logger) Error(text string, fields ...zap.Field) { l.log(zapError, text, fields) }

// Keys logs secret material; it is written only at the explicit keys level.
func (l *Logger) Keys(text string, fields ...zap.Field) { l.log(zapKeys, text, fields) }

func (l *Logger) log(lvl zapcore.Level, text string, fields []zap.Field) {
	if ce := l.z.Check(lvl, text); ce != nil {
		ce.Write(fields...)
	}
}

// With returns a logger that adds fields to every entry.
func (l *Logger) With(fields ...zap.Field) *Logger {
	return &Logger{z: l.z.With(fields...), level: l.level, hub: l.hub, warned: l.warned}
}

// Sync flushes buffered entries.
func (l *Logger) Sync() error { return l.z.Sync() }

// syslogCore sends entries to syslog with the severity of their level.
type syslogCore struct {
	zapcore.LevelEnabler
	enc zapcore.Encoder
	w   *syslog.Writer
}

func newSyslogCore(w *syslog.Writer, lvl zapcore.LevelEnabler) zapcore.Core {
	cfg := encoderConfig()
	cfg.TimeKey = "" // syslog stamps the time
	cfg.LevelKey = ""
	return &syslogCore{LevelEnabler: lvl, enc: zapcore.NewConsoleEncoder(cfg), w: w}
}

func (c *syslogCore) With(fields []zapcore.Field) zapcore.Core {
	enc := c.enc.Clone()
	for _, f := range fields {
		f.AddTo(enc)
	}
	return &syslogCore{LevelEnabler: c.LevelEnabler, enc: enc, w: c.w}
}

// Check never takes a keys level entry: secrets stay off syslog, which
// often goes to other machines and to files kept for long.
func (c *syslogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if e.Level > zapKeys && c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *syslogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	if e.Level <= zapKeys {
		return nil
	}
	buf, err := c.enc.EncodeEntry(e, fields)
	if err != nil {
		return err
	}
	line := strings.TrimRight(buf.String(), "\n")
	buf.Free()
	switch {
	case e.Level >= zapError:
		return c.w.Err(line)
	case e.Level == zapWarning:
		return c.w.Warning(line)
	case e.Level == zapNotice:
		return c.w.Notice(line)
	case e.Level == zapInfo:
		return c.w.Info(line)
	}
	return c.w.Debug(line)
}

func (c *syslogCore) Sync() error { return nil }
