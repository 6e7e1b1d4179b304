package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/iked/iked/control"
)

// listSAs prints the list-sas answer as it arrives (printSAs), each
// ISAKMP SA as soon as it is read: the answer of 100,000 SA pairs is never
// held whole (docs/performance.md, "ikectl list-sas at scale").
func listSAs(w io.Writer, socket string, req control.Request, timeout time.Duration) (*control.Response, error) {
	n := 0
	resp, err := control.CallEach(socket, req, timeout, func(sa control.SA) error {
		n++
		printSA(w, &sa)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, m := range resp.Messages {
		fmt.Fprintln(w, m)
	}
	printDetached(w, n, resp.Detached)
	return resp, nil
}

// printSAs prints each ISAKMP SA with its exchanges and, nested under it,
// its IPsec SA bundles, laid out as `swanctl --list-sas` lays out an
// IKE_SA and its CHILD_SAs so that strongSwan users read it at a glance;
// then the bundles whose ISAKMP SA is gone.
func printSAs(w io.Writer, r *control.Response) {
	for i := range r.SAs {
		printSA(w, &r.SAs[i])
	}
	printDetached(w, len(r.SAs), r.Detached)
}

func printSA(w io.Writer, sa *control.SA) {
	fmt.Fprintf(w, "%s: %s, %s, %s:%s\n", dash(sa.Conn), strings.ToUpper(sa.State), sa.Role, sa.ICookie, sa.RCookie)
	fmt.Fprintf(w, "  local  %s\n", sa.Local)
	fmt.Fprintf(w, "  remote %s\n", sa.Remote)
	fmt.Fprintf(w, "  age %s\n", sa.Age.Round(time.Second))
	for _, e := range sa.Exchanges {
		s := fmt.Sprintf("  exchange %s/%#08x: %s", e.Type, e.MessageID, e.State)
		if e.Retransmits > 0 {
			s += fmt.Sprintf(" (retransmits %d)", e.Retransmits)
		}
		fmt.Fprintln(w, s)
	}
	for _, ch := range sa.Children {
		printChild(w, "  ", ch)
	}
}

// printDetached ends the listing of sas ISAKMP SAs with the bundles whose
// ISAKMP SA is gone.
func printDetached(w io.Writer, sas int, detached []control.ChildSA) {
	if sas == 0 && len(detached) == 0 {
		fmt.Fprintln(w, "no ISAKMP SAs")
		return
	}
	if len(detached) > 0 {
		fmt.Fprintln(w, "IPsec SAs without an ISAKMP SA (the peer deleted it):")
		for _, ch := range detached {
			printChild(w, "  ", ch)
		}
	}
}

// printChild prints one bundle: a header line, its timers, one line per
// SA and direction (SPI as `ip xfrm state` prints it), its selectors.
func printChild(w io.Writer, ind string, ch control.ChildSA) {
	var protos []string
	for _, s := range ch.SAs {
		if s.Direction != "in" {
			continue
		}
		alg := strings.ToUpper(s.Protocol) + ":"
		var parts []string
		for _, a := range []string{s.Encryption, s.Integrity, s.Compression} {
			if f := strings.Fields(a); len(f) > 0 {
				parts = append(parts, f[0])
			}
		}
		protos = append(protos, alg+strings.Join(parts, "/"))
	}
	head := fmt.Sprintf("%s%s: #%08x, reqid %d, %s, %s, %s", ind, ch.Conn, ch.MessageID, ch.ReqID,
		strings.ToUpper(ch.State), strings.ToUpper(ch.Mode), strings.Join(protos, " "))
	if ch.PFS != "" {
		head += ", PFS " + ch.PFS
	}
	if ch.Encap != "" {
		head += ", encap " + ch.Encap
	}
	fmt.Fprintf(w, "%s (%s)\n", head, ch.Role)
	times := fmt.Sprintf("installed %s ago", ch.Age.Round(time.Second))
	if ch.RekeyIn != nil {
		times += fmt.Sprintf(", rekeying in %s", ch.RekeyIn.Round(time.Second))
	}
	if ch.ExpiresIn != nil {
		times += fmt.Sprintf(", expires in %s", ch.ExpiresIn.Round(time.Second))
	}
	if ch.LifeSeconds != 0 {
		times += fmt.Sprintf(" (lifetime %ds", ch.LifeSeconds)
		if ch.LifeKBytes != 0 {
			times += fmt.Sprintf(", %d KB", ch.LifeKBytes)
		}
		times += ")"
	} else if ch.LifeKBytes != 0 {
		times += fmt.Sprintf(" (lifetime %d KB)", ch.LifeKBytes)
	}
	fmt.Fprintf(w, "%s  %s\n", ind, times)
	t := newTable(w)
	for _, s := range ch.SAs {
		bytes := "-"
		if s.Bytes != nil {
			bytes = fmt.Sprintf("%d bytes", *s.Bytes)
		}
		algs := strings.TrimSpace(strings.Join([]string{s.Encryption, s.Integrity, s.Compression}, "  "))
		t.row(ind+"  "+s.Direction, s.Protocol, s.SPI, s.Src+" -> "+s.Dst, bytes, algs)
	}
	t.flush()
	fmt.Fprintf(w, "%s  local  %s\n", ind, ch.LocalTS)
	fmt.Fprintf(w, "%s  remote %s\n", ind, ch.RemoteTS)
}
