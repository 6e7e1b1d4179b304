// Package policymgr is iked's policy manager: it decodes the policy file
// (the SPD, /etc/iked/iked.yaml; shared/spec/policy-file.md is its
// contract), validates it with the catalog's SPD messages, builds the model
// the exchanges negotiate against (connections, selectors, phase 1
// transforms, phase 2 proposals) with its look-ups, and swaps a running
// policy atomically on reload.
//
// Findings are returned as notify.Message values in file order, never
// logged here, so that the daemon logs them once and `iked -check` prints
// them all. Errors that the catalog has no message for (a YAML syntax
// error, an unknown key, a wrong type, a reference to an undefined name)
// are returned as *Error values wrapped in a notify.Message-compatible way:
// see Finding.
package policymgr
