//go:build cgo && linux

package policymgr

// pamBuilt says that package xauth/pam, which needs cgo and Linux-PAM,
// is in this build: its build constraint is this file's.
const pamBuilt = true
