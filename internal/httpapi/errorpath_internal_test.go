package httpapi

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestErrorsHaveOneWriter reads the package's source: an error status is
// written only by the two error responders (writeError for JSON,
// writeTwiMLError for Twilio's webhooks) and the writers below them.
// Anywhere else a status must be a success constant, no http.Error is
// called and no errorBody is built, so a newcomer finds every error
// answer through one function.
func TestErrorsHaveOneWriter(t *testing.T) {
	// The responders, the writers they call, and /ready (a probe whose
	// 503 is a status report, not an error).
	writers := map[string]bool{"writeError": true, "writeTwiMLError": true, "writeJSON": true, "writeTwiML": true, "handleReady": true}
	success := map[string]bool{"StatusOK": true, "StatusCreated": true, "StatusAccepted": true, "StatusNoContent": true}
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files++
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil || writers[fn.Name.Name] {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.CompositeLit:
					if id, ok := x.Type.(*ast.Ident); ok && (id.Name == "errorBody" || id.Name == "errorDetail") {
						t.Errorf("%s: %s builds an error body; call writeError", fset.Position(x.Pos()), fn.Name.Name)
					}
				case *ast.CallExpr:
					name, arg := statusArg(x)
					if name == "http.Error" {
						t.Errorf("%s: %s calls http.Error; call writeError", fset.Position(x.Pos()), fn.Name.Name)
					}
					if arg == nil {
						return true
					}
					if sel, ok := arg.(*ast.SelectorExpr); ok && isIdent(sel.X, "http") && success[sel.Sel.Name] {
						return true
					}
					t.Errorf("%s: %s calls %s with a status that is not a success constant; errors go through writeError or writeTwiMLError",
						fset.Position(x.Pos()), fn.Name.Name, name)
				}
				return true
			})
		}
	}
	if files < 20 {
		t.Fatalf("read %d files; is the test running in the package directory?", files)
	}
}

// statusArg names a call and returns its status argument when it writes
// one (writeJSON, writeTwiML, WriteHeader).
func statusArg(c *ast.CallExpr) (string, ast.Expr) {
	switch fn := c.Fun.(type) {
	case *ast.Ident:
		if (fn.Name == "writeJSON" || fn.Name == "writeTwiML") && len(c.Args) > 1 {
			return fn.Name, c.Args[1]
		}
	case *ast.SelectorExpr:
		if id, ok := fn.X.(*ast.Ident); ok && id.Name == "http" && fn.Sel.Name == "Error" {
			return "http.Error", nil
		}
		if fn.Sel.Name == "WriteHeader" && len(c.Args) == 1 {
			return "WriteHeader", c.Args[0]
		}
	}
	return "", nil
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}
