// Package userfile reads an XAUTH users file: lines "name:HASH" where HASH
// is bcrypt, as `htpasswd -B` writes it, or an argon2id string in the PHC
// format (https://github.com/P-H-C/phc-string-format), as the reference
// argon2 tool prints it. It is apart from package xauth so that the policy
// manager can check the file without importing the backends.
package userfile

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Kind is a password hash's algorithm.
type Kind uint8

const (
	Bcrypt Kind = iota + 1
	Argon2id
)

func (k Kind) String() string {
	switch k {
	case Bcrypt:
		return "bcrypt"
	case Argon2id:
		return "argon2id"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Bounds on argon2id parameters, so that a mistyped line cannot make one
// login allocate the machine's memory or run for minutes.
const (
	maxArgonMemory = 1 << 20 // KiB: 1 GiB
	maxArgonTime   = 100
	minArgonSalt   = 8
	minArgonKey    = 16
	maxArgonKey    = 1024
)

// Weak thresholds for iked -check: bcrypt below cost 10, and argon2id
// whose memory (KiB) times passes is below what the smallest of the
// OWASP Password Storage Cheat Sheet's argon2id settings spends
// (m=7168 KiB, t=5).
const (
	weakBcryptCost = 10
	weakArgonWork  = 7168 * 5
)

// Hash is one user's password hash.
type Hash struct {
	kind Kind
	// bcrypt: the whole string, for bcrypt.CompareHashAndPassword.
	crypt []byte
	cost  int
	// argon2id (RFC 9106): the parameters, the salt and the tag.
	memory, time uint32
	threads      uint8
	salt, tag    []byte
}

// Kind returns the hash's algorithm.
func (h Hash) Kind() Kind { return h.kind }

// Params says the algorithm and its cost, as iked -check prints them:
// "bcrypt cost 10", "argon2id m=65536,t=3,p=4".
func (h Hash) Params() string {
	if h.kind == Bcrypt {
		return fmt.Sprintf("bcrypt cost %d", h.cost)
	}
	return fmt.Sprintf("argon2id m=%d,t=%d,p=%d", h.memory, h.time, h.threads)
}

// Weak says why the hash is cheap to guess at, or "" when it is not.
func (h Hash) Weak() string {
	switch {
	case h.kind == Bcrypt && h.cost < weakBcryptCost:
		return fmt.Sprintf("bcrypt cost %d is below %d (htpasswd -B -C 12)", h.cost, weakBcryptCost)
	case h.kind == Argon2id && uint64(h.memory)*uint64(h.time) < weakArgonWork:
		return fmt.Sprintf("argon2id m=%d,t=%d spends less than m=%d,t=5 (argon2 SALT -id -m 16 -t 3)", h.memory, h.time, 7168)
	}
	return ""
}

// Verify reports whether password is the one hashed. It takes the time
// the hash's parameters take whatever the password; the tags are
// compared in constant time.
func (h Hash) Verify(password []byte) bool {
	switch h.kind {
	case Bcrypt:
		return bcrypt.CompareHashAndPassword(h.crypt, password) == nil
	case Argon2id:
		got := argon2.IDKey(password, h.salt, h.time, h.memory, h.threads, uint32(len(h.tag)))
		return subtle.ConstantTimeCompare(got, h.tag) == 1
	}
	return false
}

// ParseHash decodes a bcrypt ($2a$, $2b$, $2y$) or argon2id hash. Its
// errors never quote the hash.
func ParseHash(s string) (Hash, error) {
	switch {
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		return parseBcrypt(s)
	case strings.HasPrefix(s, "$argon2id$"):
		return parseArgon2id(s)
	case strings.HasPrefix(s, "$argon2i$"), strings.HasPrefix(s, "$argon2d$"):
		return Hash{}, errors.New("the hash is argon2i or argon2d; only argon2id is accepted (argon2 SALT -id -e)")
	case s == "":
		return Hash{}, errors.New("the hash is empty")
	}
	return Hash{}, errors.New("the hash is neither bcrypt ($2a$, $2b$, $2y$: htpasswd -B) nor argon2id ($argon2id$: argon2 SALT -id -e)")
}

func parseBcrypt(s string) (Hash, error) {
	// $2y$10$ + 22 characters of salt + 31 of hash.
	if len(s) != 60 {
		return Hash{}, fmt.Errorf("the bcrypt hash has %d characters, not 60", len(s))
	}
	cost, err := bcrypt.Cost([]byte(s))
	if err != nil {
		return Hash{}, fmt.Errorf("the bcrypt hash does not decode: %v", err)
	}
	return Hash{kind: Bcrypt, crypt: []byte(s), cost: cost}, nil
}

// parseArgon2id decodes $argon2id$v=19$m=M,t=T,p=P$SALT$TAG, SALT and TAG
// in base64 without padding (the PHC string format).
func parseArgon2id(s string) (Hash, error) {
	f := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, tag
	if len(f) != 6 {
		return Hash{}, errors.New("the argon2id hash is not $argon2id$v=19$m=M,t=T,p=P$SALT$HASH")
	}
	if f[2] != "v=19" {
		return Hash{}, fmt.Errorf("the argon2id hash has version %q; only v=19 (argon2 1.3) is accepted", f[2])
	}
	var m, t, p uint64
	params := strings.Split(f[3], ",")
	if len(params) != 3 {
		return Hash{}, errors.New("the argon2id parameters are not m=M,t=T,p=P")
	}
	for i, want := range []struct {
		name   string
		to     *uint64
		lo, hi uint64
	}{{"m", &m, 8, maxArgonMemory}, {"t", &t, 1, maxArgonTime}, {"p", &p, 1, 255}} {
		k, v, ok := strings.Cut(params[i], "=")
		if !ok || k != want.name {
			return Hash{}, errors.New("the argon2id parameters are not m=M,t=T,p=P")
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n < want.lo || n > want.hi {
			return Hash{}, fmt.Errorf("the argon2id parameter %s=%s is not a number %d-%d", k, v, want.lo, want.hi)
		}
		*want.to = n
	}
	if m < 8*p {
		return Hash{}, fmt.Errorf("the argon2id memory m=%d is below 8 KiB per lane (p=%d)", m, p)
	}
	salt, err := base64.RawStdEncoding.Strict().DecodeString(f[4])
	if err != nil || len(salt) < minArgonSalt {
		return Hash{}, fmt.Errorf("the argon2id salt is not base64 of %d bytes or more", minArgonSalt)
	}
	tag, err := base64.RawStdEncoding.Strict().DecodeString(f[5])
	if err != nil || len(tag) < minArgonKey || len(tag) > maxArgonKey {
		return Hash{}, fmt.Errorf("the argon2id hash is not base64 of %d-%d bytes", minArgonKey, maxArgonKey)
	}
	return Hash{kind: Argon2id, memory: uint32(m), time: uint32(t), threads: uint8(p), salt: salt, tag: tag}, nil
}

// dummyLike returns a hash of a random password with h's algorithm and
// parameters: a name that is not in the file is checked against it, so
// that a wrong name takes as long as a wrong password.
func dummyLike(h Hash) (Hash, error) {
	pw := make([]byte, 24)
	rand.Read(pw)
	switch h.kind {
	case Bcrypt:
		crypt, err := bcrypt.GenerateFromPassword(pw, h.cost)
		if err != nil {
			return Hash{}, err
		}
		return Hash{kind: Bcrypt, crypt: crypt, cost: h.cost}, nil
	case Argon2id:
		d := h
		d.salt = bytes.Clone(h.salt)
		rand.Read(d.salt)
		d.tag = argon2.IDKey(pw, d.salt, h.time, h.memory, h.threads, uint32(len(h.tag)))
		return d, nil
	}
	return Hash{}, errors.New("no hash to imitate")
}
