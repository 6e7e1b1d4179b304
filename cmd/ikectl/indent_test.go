package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestIndentJSON: indentJSON writes what json.Indent writes for compact
// JSON, empty objects and arrays, nesting and strings with quotes,
// escapes and brackets in them included, and reports an answer cut
// short.
func TestIndentJSON(t *testing.T) {
	for _, in := range []string{
		`{}`, `[]`, `{"a":[]}`, `{"a":{},"b":[{}],"c":[1,2,{"d":null}]}`,
		`{"sas":[{"icookie":"01","x":"a\"b\\\\\"c{[,:]}\u003c","e":true,"n":-1.5e3}],"detached":[{"sas":null}]}`,
		`"str"`, `17`,
	} {
		var want bytes.Buffer
		if err := json.Indent(&want, []byte(in+"\n"), "", "  "); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		var got bytes.Buffer
		w := bufio.NewWriter(&got)
		if err := indentJSON(w, bufio.NewReader(strings.NewReader(in+"\nrest"))); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		w.Flush()
		if got.String() != want.String() {
			t.Errorf("%s:\n got %q\nwant %q", in, got.String(), want.String())
		}
	}
	w := bufio.NewWriter(&bytes.Buffer{})
	if err := indentJSON(w, bufio.NewReader(strings.NewReader(`{"sas":[{"a":1},`))); err != errUnfinished {
		t.Errorf("cut short: %v", err)
	}
}
