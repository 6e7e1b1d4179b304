package notify

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestOperatorCatalog keeps docs/messages.md true to the catalog: every
// message has its entry, with its number, its exact text (placeholders as
// messages.txt spells them), its level and the constructor that makes it.
func TestOperatorCatalog(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "messages.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	ctor := constructors(t)
	for i := range catalog {
		e := &catalog[i]
		entry := fmt.Sprintf("### %d\n\n```\n%s\n```\n\nLevel: %s. Made by `notify.%s`.", e.num, e.seedText(), e.level, ctor[e.num])
		if ctor[e.num] == "" || !strings.Contains(doc, entry) {
			t.Errorf("docs/messages.md lacks the entry of message %d:\n%s", e.num, entry)
		}
	}
	if n := strings.Count(doc, "\n### "); n != len(catalog) {
		t.Errorf("docs/messages.md has %d entries, the catalog %d messages", n, len(catalog))
	}
}

// constructors maps each message number to the exported function of
// catalog.go that calls msg with it.
func constructors(t *testing.T) map[int]string {
	f, err := parser.ParseFile(token.NewFileSet(), "catalog.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || !fd.Name.IsExported() || fd.Body == nil {
			continue
		}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			if id, ok := call.Fun.(*ast.Ident); ok && id.Name == "msg" {
				if lit, ok := call.Args[0].(*ast.BasicLit); ok {
					if num, err := strconv.Atoi(lit.Value); err == nil {
						out[num] = fd.Name.Name
					}
				}
			}
			return true
		})
	}
	return out
}
