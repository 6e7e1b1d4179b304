package notify

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// coverageRow is one row of testdata/coverage.md.
type coverageRow struct {
	num         int
	constructor string
	tests       []coverageTest
	note        string
}

type coverageTest struct{ name, dir string }

var coverageTestRE = regexp.MustCompile(`^(Test\w+) \(([\w/.-]+)\)$`)

func readCoverage(t *testing.T) []coverageRow {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "coverage.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []coverageRow
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cells := strings.Split(sc.Text(), "|")
		if len(cells) != 6 || cells[0] != "" || cells[5] != "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(cells[1]))
		if err != nil {
			continue // the header
		}
		r := coverageRow{num: n, constructor: strings.TrimSpace(cells[2]), note: strings.TrimSpace(cells[4])}
		if ts := strings.TrimSpace(cells[3]); ts != "—" {
			for _, s := range strings.Split(ts, "; ") {
				m := coverageTestRE.FindStringSubmatch(s)
				if m == nil {
					t.Fatalf("coverage.md, message %d: %q is not `TestName (directory)`", n, s)
				}
				r.tests = append(r.tests, coverageTest{m[1], m[2]})
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// constructors maps each catalog number to the exported function of
// catalog.go whose body calls msg with it.
func constructors(t *testing.T) map[int]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "catalog.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || !fd.Name.IsExported() || fd.Recv != nil {
			continue
		}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			c, ok := n.(*ast.CallExpr)
			if !ok || len(c.Args) == 0 {
				return true
			}
			if id, ok := c.Fun.(*ast.Ident); ok && id.Name == "msg" {
				if bl, ok := c.Args[0].(*ast.BasicLit); ok && bl.Kind == token.INT {
					num, _ := strconv.Atoi(bl.Value)
					out[num] = fd.Name.Name
				}
			}
			return true
		})
	}
	return out
}

// moduleFiles parses the module's Go files (the repository root is the
// parent of this package), tests or not.
func moduleFiles(t *testing.T, tests bool, visit func(dir string, f *ast.File)) {
	t.Helper()
	fset := token.NewFileSet()
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != ".." && (strings.HasPrefix(n, ".") || n == "testdata" || n == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") != tests {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		dir, _ := filepath.Rel("..", filepath.Dir(path))
		visit(filepath.ToSlash(dir), f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// productionUses counts the references to this package's functions from
// the module's non-test code outside this package: calls and function
// values alike (policymgr passes SPDLocalAddressType as a value).
func productionUses(t *testing.T) map[string]int {
	t.Helper()
	uses := map[string]int{}
	moduleFiles(t, false, func(dir string, f *ast.File) {
		if dir == "notify" {
			return
		}
		name := ""
		for _, im := range f.Imports {
			if p, _ := strconv.Unquote(im.Path.Value); p == "github.com/iked/iked/notify" {
				name = "notify"
				if im.Name != nil {
					name = im.Name.Name
				}
			}
		}
		if name == "" {
			return
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if s, ok := n.(*ast.SelectorExpr); ok {
				if x, ok := s.X.(*ast.Ident); ok && x.Name == name {
					uses[s.Sel.Name]++
				}
			}
			return true
		})
	})
	return uses
}

// testMentions records, for each test function of the module, the
// integer literals, identifiers and string literals in its body.
type mentions struct {
	ints    map[int]bool
	idents  map[string]bool
	strings []string
}

func testFunctions(t *testing.T) map[coverageTest]*mentions {
	t.Helper()
	out := map[coverageTest]*mentions{}
	moduleFiles(t, true, func(dir string, f *ast.File) {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || !strings.HasPrefix(fd.Name.Name, "Test") {
				continue
			}
			m := &mentions{ints: map[int]bool{}, idents: map[string]bool{}}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.BasicLit:
					switch n.Kind {
					case token.INT:
						if v, err := strconv.Atoi(n.Value); err == nil {
							m.ints[v] = true
						}
					case token.STRING:
						if s, err := strconv.Unquote(n.Value); err == nil {
							m.strings = append(m.strings, s)
						}
					}
				case *ast.Ident:
					m.idents[n.Name] = true
				}
				return true
			})
			out[coverageTest{fd.Name.Name, dir}] = m
		}
	})
	return out
}

// fixedPart is the longest stretch of a message's format without a verb:
// the text a test that reads the message must hold some of.
func fixedPart(format string) string {
	best := ""
	for _, p := range regexp.MustCompile(`%[a-z]`).Split(format, -1) {
		if len(p) > len(best) {
			best = p
		}
	}
	if len(best) > 24 {
		best = best[:24]
	}
	return best
}

func (m *mentions) names(num int, constructor, format string) bool {
	if m.ints[num] || m.idents[constructor] {
		return true
	}
	fixed := fixedPart(format)
	for _, s := range m.strings {
		if (len(fixed) >= 8 && strings.Contains(s, fixed)) || (len(s) >= 15 && strings.Contains(format, s)) {
			return true
		}
	}
	return false
}

// TestCoverage keeps testdata/coverage.md true: one row per message with
// its constructor; a constructor that no production code uses only in a
// row that says it is not produced, and why; every other row names tests
// that exist and that name the message.
func TestCoverage(t *testing.T) {
	rows := readCoverage(t)
	cons := constructors(t)
	uses := productionUses(t)
	tests := testFunctions(t)
	if len(rows) != len(catalog) || len(cons) != len(catalog) {
		t.Fatalf("coverage.md has %d rows and catalog.go %d constructors for %d messages", len(rows), len(cons), len(catalog))
	}
	for i, r := range rows {
		if r.num != i+1 {
			t.Fatalf("coverage.md: row %d is message %d", i+1, r.num)
		}
		if cons[r.num] != r.constructor {
			t.Errorf("message %d: coverage.md names %s, catalog.go %s", r.num, r.constructor, cons[r.num])
		}
		notProduced := strings.HasPrefix(r.note, "Not produced: ")
		switch {
		case uses[r.constructor] == 0 && !notProduced:
			t.Errorf("message %d: no production code uses %s; produce it, or say in coverage.md why not (`Not produced: ...`)", r.num, r.constructor)
		case uses[r.constructor] > 0 && notProduced:
			t.Errorf("message %d: %s is used now; coverage.md still says it is not produced", r.num, r.constructor)
		case !notProduced && len(r.tests) == 0:
			t.Errorf("message %d: coverage.md names no test", r.num)
		}
		for _, ct := range r.tests {
			m, ok := tests[ct]
			if !ok {
				t.Errorf("message %d: no test %s in %s", r.num, ct.name, ct.dir)
				continue
			}
			if !m.names(r.num, r.constructor, catalog[r.num-1].format) {
				t.Errorf("message %d: %s (%s) names it neither by number, by %s nor by its text", r.num, ct.name, ct.dir, r.constructor)
			}
		}
	}
}
