//go:build !(cgo && linux)

package policymgr

// pamBuilt says that package xauth/pam is not in this build (no cgo): a
// policy asking for it is refused.
const pamBuilt = false
