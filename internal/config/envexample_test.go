package config

import (
	"sort"
	"strings"
	"testing"
)

// loaderVariables is every variable Load reads, recorded through getenv,
// in development and in production.
func loaderVariables() map[string]bool {
	read := map[string]bool{}
	for _, base := range []map[string]string{nil, prodEnv()} {
		_, _ = Load(func(k string) string {
			read[k] = true
			return base[k]
		})
	}
	return read
}

// TestEnvExampleListsEveryVariable: .env.example names every variable the
// loader reads (a secret's NAME_FILE is covered by its NAME, as the file
// header says), and nothing the loader does not read.
func TestEnvExampleListsEveryVariable(t *testing.T) {
	example := envExample(t)
	read := loaderVariables()
	var missing, unknown []string
	for name := range read {
		if _, ok := example[name]; ok {
			continue
		}
		if base, isFile := strings.CutSuffix(name, "_FILE"); isFile {
			if _, ok := example[base]; ok {
				continue
			}
		}
		missing = append(missing, name)
	}
	for name := range example {
		if !read[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(missing)
	sort.Strings(unknown)
	if len(missing) > 0 {
		t.Errorf(".env.example does not list %s", strings.Join(missing, ", "))
	}
	if len(unknown) > 0 {
		t.Errorf(".env.example lists %s, which the loader never reads", strings.Join(unknown, ", "))
	}
	if !read["DATABASE_URL_FILE"] {
		t.Error("DATABASE_URL_FILE is not read")
	}
}
