package store_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCallsHaveOneWriter: only CallStore (calls*.go, admit*.go: the
// admission it runs) writes the calls table; other stores read it. The
// privacy erasure deletes a subject's rows of every table through one
// generic statement and is the documented exception (it names no table
// in its SQL text).
func TestCallsHaveOneWriter(t *testing.T) {
	write := regexp.MustCompile(`(?i)\b(UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+calls\b`)
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || strings.HasPrefix(f, "calls") || strings.HasPrefix(f, "admit") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if loc := write.FindIndex(src); loc != nil {
			t.Errorf("%s writes the calls table (%q): move the write into CallStore", f, src[loc[0]:loc[1]])
		}
	}
}
