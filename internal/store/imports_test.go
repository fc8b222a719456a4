package store_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/voiceagent/voiceagent/"

// forbiddenForStorage are the transport and tool packages storage must
// never reach: it depends on domain packages only.
var forbiddenForStorage = []string{"internal/relay", "internal/httpapi", "internal/sim"}

// TestStorageImportsOnlyDomain walks every package under internal/store
// (its tests included) and everything they import from this module,
// directly or not, and fails if any path reaches relay, httpapi or sim.
func TestStorageImportsOnlyDomain(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	var start []string
	err = filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() != "testdata" {
			start = append(start, "internal/store/"+filepath.ToSlash(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(start) < 2 {
		t.Fatalf("found %d packages under internal/store, want the store and storetest at least", len(start))
	}

	// via records how each package was reached, to name the path in a failure.
	via := map[string]string{}
	queue := []string{}
	for _, p := range start {
		via[strings.TrimSuffix(p, "/.")] = ""
		queue = append(queue, strings.TrimSuffix(p, "/."))
	}
	for len(queue) > 0 {
		pkg := queue[0]
		queue = queue[1:]
		withTests := strings.HasPrefix(pkg, "internal/store")
		for _, imp := range importsOf(t, filepath.Join(root, pkg), withTests) {
			rel, ok := strings.CutPrefix(imp, module)
			if !ok {
				continue
			}
			for _, bad := range forbiddenForStorage {
				if rel == bad || strings.HasPrefix(rel, bad+"/") {
					t.Errorf("%s imports %s (reached via %s)", pkg, rel, chain(via, pkg))
				}
			}
			if _, seen := via[rel]; !seen {
				via[rel] = pkg
				queue = append(queue, rel)
			}
		}
	}
}

// importsOf lists the import paths of the Go files in dir; test files
// count only when withTests is set.
func importsOf(t *testing.T, dir string, withTests bool) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	var out []string
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || (!withTests && strings.HasSuffix(name, "_test.go")) {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		for _, spec := range f.Imports {
			p, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				t.Fatalf("%s: import %s: %v", name, spec.Path.Value, err)
			}
			out = append(out, p)
		}
	}
	return out
}

func chain(via map[string]string, pkg string) string {
	parts := []string{pkg}
	for p := via[pkg]; p != ""; p = via[p] {
		parts = append(parts, p)
	}
	return strings.Join(parts, " <- ")
}
