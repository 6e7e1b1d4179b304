// Package policymgr is iked's policy manager: it decodes the policy file
// (the SPD, /etc/iked/iked.yaml; docs/policy-file.md is its reference,
// every key with its default and the message a mistake gives), validates it with the catalog's SPD messages, builds the model
// the exchanges negotiate against (connections, selectors, phase 1
// transforms, phase 2 proposals) with its look-ups, and swaps a running
// policy atomically on reload.
//
// Findings are returned, never logged here, in file order, so that the
// daemon logs them once and `iked -check` prints them all. A mistake the
// catalog has no message for (a YAML syntax error, an unknown or duplicate
// key, a wrong type, an unknown algorithm, a reference to an undefined
// name) is a notify.Message with Num 0, level error and its line at the
// start of its text; it is serious, so message 21 follows. Catalog
// messages keep their exact text and carry their line in Finding.Line
// (zap fields from Finding.Fields). See Finding.
//
// Below error a Num 0 finding is a warning (weak algorithms, Aggressive
// Mode with a pre-shared key, an expired CRL: the policy loads) or, in
// Check only, an info or warning that describes the policy (what a road
// warrior connection accepts, CAs without a CRL; see describe.go).
//
// Entry points: Load and LoadFindings (start-up), Check (`iked -check`),
// Manager (the running policy and reload), and on *Policy the look-ups
// Phase1Candidates, SelectByID, QuickMode and ForTraffic.
package policymgr
