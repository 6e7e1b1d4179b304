package notify

import (
	"fmt"
	"os"
	"path/filepath"
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
		entry := fmt.Sprintf("### %d\n\n```\n%s\n```\n\nLevel: %s. Made by `notify.%s`.", e.num, e.text(), e.level, ctor[e.num])
		if ctor[e.num] == "" || !strings.Contains(doc, entry) {
			t.Errorf("docs/messages.md lacks the entry of message %d:\n%s", e.num, entry)
		}
	}
	if n := strings.Count(doc, "\n### "); n != len(catalog) {
		t.Errorf("docs/messages.md has %d entries, the catalog %d messages", n, len(catalog))
	}
}
