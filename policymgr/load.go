package policymgr

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/pki"
)

// MaxFileSize bounds the policy file so that a mistaken path cannot make
// the daemon read a disk image.
const MaxFileSize = pki.MaxFileSize

// LoadOptions carries what Load needs from outside the file.
type LoadOptions struct {
	// Now is the clock for certificate validity checks (nil: time.Now).
	Now func() time.Time
}

// Policy is one instantiated policy file. It is immutable once Load returns
// it, so the daemon shares it between goroutines and a reload replaces it
// whole (see Manager).
type Policy struct {
	Path   string // the file it was read from
	Daemon Daemon
	// Certs is the certificate manager's store of the certificates section.
	Certs *pki.Store
	// Connections in file order; connections skipped with message 18 are
	// not here.
	Connections []*Connection
	byName      map[string]*Connection
	// Pools are the Mode Config address pools by name.
	Pools map[string]*Pool
}

// Connection returns the connection named name.
func (p *Policy) Connection(name string) (*Connection, bool) {
	c, ok := p.byName[name]
	return c, ok
}

// Load reads, decodes and validates the policy file at path.
//
// The error is non-nil only when the file cannot be read; the caller logs
// message 5 on a reload (notify.ConfigUnreadable). Otherwise the messages
// are everything found, in file order; when any of them is serious the
// policy is nil and the last message is #21 (notify.SPDNotInstantiated).
// LoadFindings gives the same with each message's line.
func Load(path string, opts LoadOptions) (*Policy, []notify.Message, error) {
	p, fs, err := LoadFindings(path, opts)
	return p, Messages(fs), err
}

// LoadFindings is Load with the place of each message in the file.
func LoadFindings(path string, opts LoadOptions) (*Policy, []Finding, error) {
	data, fi, err := readBounded(path)
	if err != nil {
		return nil, nil, err
	}
	return parseFile(path, data, fi, opts, false)
}

// Check is `iked -check`: it loads the file and returns every finding, a
// file that cannot be read included, and whether the policy would be
// instantiated.
//
// Check also describes what a load does not log (see describe): what a
// road warrior connection accepts as remote selectors, and which trusted
// CAs have no CRL.
func Check(path string, opts LoadOptions) ([]Finding, bool) {
	data, fi, err := readBounded(path)
	if err != nil {
		fs := []Finding{{Message: plain(0, "cannot read the policy file: %v", err), File: path}}
		return append(fs, Finding{Message: notify.SPDNotInstantiated(), File: path}), false
	}
	p, fs, _ := parseFile(path, data, fi, opts, true)
	return fs, p != nil
}

// readBounded reads the policy file and returns it with its mode and
// owner as they were when read (an inline psk depends on them).
func readBounded(path string) ([]byte, os.FileInfo, error) {
	data, fi, err := pki.ReadBounded(path)
	switch {
	case errors.Is(err, pki.ErrNotRegular):
		return nil, nil, fmt.Errorf("%s: not a regular file", path)
	case errors.Is(err, pki.ErrTooLarge):
		return nil, nil, fmt.Errorf("%s: larger than %d bytes", path, MaxFileSize)
	case err != nil:
		return nil, nil, err
	}
	return data, fi, nil
}

var topKeys = []string{"daemon", "certificates", "transforms", "proposals", "proposal-lists", "connections", "pools"}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parse is Load after reading, for a policy that is not in a file.
func parse(path string, data []byte, opts LoadOptions) (*Policy, []Finding, error) {
	return parseFile(path, data, nil, opts, false)
}

// parseFile is Load after reading: decode, validate, build. fi is the
// file's mode and owner (nil: not from a file); check adds what `iked
// -check` describes.
func parseFile(path string, data []byte, fi os.FileInfo, opts LoadOptions, check bool) (*Policy, []Finding, error) {
	d := &decoder{file: path, dir: filepath.Dir(path), info: fi}
	pol := &Policy{Path: path, Daemon: DefaultDaemon(), byName: map[string]*Connection{}}

	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	err := dec.Decode(&doc)
	switch {
	case errors.Is(err, io.EOF):
		// An empty file: the defaults and no connections.
	case err != nil:
		line := 0
		text := err.Error()
		if m := yamlLine.FindStringSubmatch(text); m != nil {
			line, _ = strconv.Atoi(m[1])
			text = m[2]
		}
		d.add(line, plain(line, "YAML syntax: %s", text))
	default:
		var extra yaml.Node
		if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
			d.add(extra.Line, plain(extra.Line, "the file holds more than one YAML document; the policy is one"))
		}
	}

	var sec sections
	var certOrder []*certDef
	var conns []*connDef
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		nodes := map[string]*yaml.Node{}
		d.mapping(doc.Content[0], "the top level", topKeys, func(key string, _, v *yaml.Node) { nodes[key] = v })
		pol.Daemon = d.daemonSection(nodes["daemon"])
		certOrder, sec.certs = d.certificates(nodes["certificates"])
		sec.transforms = d.transforms(nodes["transforms"])
		sec.proposals = d.proposals(nodes["proposals"], sec.transforms)
		sec.lists = d.proposalLists(nodes["proposal-lists"], sec.proposals)
		sec.pools = d.pools(nodes["pools"])
		pol.Pools = sec.pools
		conns = d.connections(nodes["connections"], &sec)
		d.unusedPools(sec.pools, conns)
		d.unusedISAKMP(sec.proposals)
	}

	// The certificate manager reads the files; connections that
	// authenticate with a certificate need its private key (message 20).
	var items []pki.Item
	for _, c := range certOrder {
		for _, cd := range conns {
			if cd.conn.IKE != nil && cd.conn.IKE.Certificate == c.item.Name {
				c.item.Connections = append(c.item.Connections, cd.conn.Name)
			}
		}
		items = append(items, c.item)
	}
	store, pkiFindings := pki.LoadDetailed(items, opts.Now)
	pol.Certs = store
	d.pkiFindings(pkiFindings, certOrder)

	for _, cd := range conns {
		c := cd.conn
		if c.IKE != nil && c.IKE.Auth == AuthCertificate && c.IKE.Certificate != "" {
			if cert, ok := store.Cert(c.IKE.Certificate); ok {
				c.IKE.Cert = cert
				c.IKE.AuthMethod = authMethodOf(cert)
				if c.IKE.AuthMethod == 0 {
					d.errorf(cd.certKey, "connection %q: certificate %q has a key that cannot sign for IKE (RSA, or ECDSA on P-256, P-384 or P-521)", c.Name, c.IKE.Certificate)
				}
				if c.IKE.LocalID.IsZero() && cert.X509 != nil {
					text, err := pki.FormatDN(cert.X509.RawSubject)
					if err != nil {
						text = cert.X509.Subject.String()
					}
					c.IKE.LocalID = ID{Type: isakmp.IDDERASN1DN, Data: cert.X509.RawSubject, Text: text}
				}
			}
		}
		if c.IKE != nil && c.IKE.CA != "" {
			if ca, ok := store.Cert(c.IKE.CA); !ok || !ca.Trusted {
				d.errorf(cd.caKey, "connection %q ike ca %q: the certificate is not a trusted CA that loaded (trusted: true, and no error above)", c.Name, c.IKE.CA)
			}
		}
		if c.IKE != nil && c.IKE.XAuth == XAuthServer && pol.Daemon.XAuth.Backend == XAuthNone {
			d.errorf(cd.keyAt["ike"], "connection %q ike xauth server: daemon.xauth names no backend to check the passwords with", c.Name)
		}
		d.resolveDPD(cd, pol.Daemon.DPD)
		if cd.skip {
			continue
		}
		c.fingerprint = fingerprint(c)
		pol.Connections = append(pol.Connections, c)
		pol.byName[c.Name] = c
	}

	if check {
		d.describe(conns, certOrder, store)
		d.describeXAuth(pol.Daemon.XAuth)
	}
	sortByLine(d.findings)
	if anySerious(d.findings) {
		return nil, append(d.findings, Finding{Message: notify.SPDNotInstantiated(), File: path}), nil
	}
	return pol, d.findings, nil
}

// authMethodOf is the phase 1 Authentication Method of a certificate's
// key: RSA signatures, or ECDSA on its curve (RFC 4754, 3).
func authMethodOf(c *pki.Cert) isakmp.AuthMethod {
	if c == nil || c.X509 == nil {
		return 0
	}
	switch k := c.X509.PublicKey.(type) {
	case *rsa.PublicKey:
		return isakmp.AuthRSASig
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return isakmp.AuthECDSA256
		case elliptic.P384():
			return isakmp.AuthECDSA384
		case elliptic.P521():
			return isakmp.AuthECDSA521
		}
	}
	return 0
}

// pkiFindings places the certificate manager's messages at the line of
// the certificate item they concern. A message that names its item goes
// there; the notices that name none go with their item's serious message:
// 39, 40, 43 and 44 precede it (the next named message), 42 and 45 follow
// the item's earlier message, if any, else the first item.
func (d *decoder) pkiFindings(fs []pki.Finding, certs []*certDef) {
	first := 0
	if len(certs) > 0 {
		first = certs[0].line
	}
	lines := make([]int, len(fs))
	for i, f := range fs {
		for _, c := range certs {
			if strings.Contains(f.Msg.Text, "`"+c.item.Name+"'") {
				lines[i] = c.line
				break
			}
		}
	}
	for i, f := range fs {
		if lines[i] != 0 {
			continue
		}
		line := 0
		switch f.Msg.Num {
		case 39, 40, 43, 44:
			for j := i + 1; j < len(fs) && line == 0; j++ {
				line = lines[j]
			}
		default:
			for j := i - 1; j >= 0 && line == 0; j-- {
				line = lines[j]
			}
		}
		if line == 0 {
			line = first
		}
		lines[i] = line
	}
	for i, f := range fs {
		m := f.Msg
		if m.Num == 0 && lines[i] > 0 {
			m.Text = fmt.Sprintf("line %d: %s", lines[i], m.Text) // a non-catalog finding carries its line
		}
		d.findings = append(d.findings, Finding{Message: m, File: d.file, Line: lines[i], Detail: f.Detail})
	}
}
