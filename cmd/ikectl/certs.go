package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/iked/iked/control"
)

// printCerts prints each certificate of the running policy with what an
// operator checks first: who it names, what it is for, how many days are
// left, and for a CA its CRL's next update.
func printCerts(w io.Writer, certs []control.Cert) {
	if len(certs) == 0 {
		fmt.Fprintln(w, "no certificates")
		return
	}
	for _, c := range certs {
		var roles []string
		if c.CA {
			roles = append(roles, "CA")
		}
		if c.Trusted {
			roles = append(roles, "trusted")
		}
		if c.PrivateKey {
			roles = append(roles, "has private key")
		}
		head := c.Name + ":"
		if len(roles) > 0 {
			head += " " + strings.Join(roles, ", ")
		}
		fmt.Fprintln(w, head)
		t := newTable(w)
		t.row("  subject", c.Subject)
		t.row("  issuer", c.Issuer)
		t.row("  serial", c.Serial)
		t.row("  valid", fmt.Sprintf("%s to %s (%s)", day(c.NotBefore), day(c.NotAfter), daysLeft(c.DaysToExpiry, "expires", "expired")))
		if r := c.CRL; r != nil {
			next := "no next update given"
			if r.DaysToNextUpdate != nil {
				next = fmt.Sprintf("next update %s (%s)", day(r.NextUpdate), daysLeft(*r.DaysToNextUpdate, "due", "overdue"))
			}
			t.row("  CRL", fmt.Sprintf("issued %s, %s, %d revoked", day(r.ThisUpdate), next, r.Revoked))
		}
		t.flush()
	}
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// daysLeft says "expires in 12 days", "expires within a day" or "expired 3
// days ago".
func daysLeft(n int, future, past string) string {
	switch {
	case n == 0:
		return future + " within a day"
	case n == 1:
		return future + " in 1 day"
	case n > 1:
		return fmt.Sprintf("%s in %d days", future, n)
	case n == -1:
		return past + " 1 day ago"
	}
	return fmt.Sprintf("%s %d days ago", past, -n)
}
