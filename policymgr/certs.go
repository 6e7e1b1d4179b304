package policymgr

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/iked/iked/pki"
)

// certDef is one entry of the certificates section, before pki loads it.
type certDef struct {
	item pki.Item
	line int
}

var certKeys = []string{"file", "trusted", "crl", "crl-strict", "private-key"}

// certificates decodes the certificates section into pki items with their
// paths resolved against the file's folder; pki reads the files.
func (d *decoder) certificates(n *yaml.Node) ([]*certDef, map[string]*certDef) {
	var order []*certDef
	byName := map[string]*certDef{}
	d.mapping(n, "the certificates section", nil, func(name string, k, v *yaml.Node) {
		c := &certDef{item: pki.Item{Name: name}, line: k.Line}
		order = append(order, c)
		byName[name] = c
		where := fmt.Sprintf("certificate %q", name)
		var strictAt *yaml.Node
		d.mapping(v, where, certKeys, func(key string, kn, v *yaml.Node) {
			switch key {
			case "file":
				// An empty file name is left to pki: message 19.
				if s, ok := d.scalar(v, where+" file"); ok && s != "" {
					c.item.File = d.path(s)
				}
			case "trusted":
				if b, ok := d.boolean(v, where+" trusted"); ok {
					c.item.Trusted = b
				}
			case "crl":
				if s, ok := d.str(v, where+" crl"); ok {
					c.item.CRL = d.path(s)
				}
			case "crl-strict":
				if b, ok := d.boolean(v, where+" crl-strict"); ok {
					c.item.CRLStrict, strictAt = b, kn
				}
			case "private-key":
				if s, ok := d.str(v, where+" private-key"); ok {
					c.item.PrivateKey = d.path(s)
				}
			}
		})
		if c.item.CRLStrict && c.item.CRL == "" {
			d.errorf(strictAt, "%s has crl-strict but no crl", where)
		}
	})
	return order, byName
}
