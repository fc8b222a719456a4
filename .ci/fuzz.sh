#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a short, bounded time
# (FUZZTIME, default 10s each). The seed corpora under each package's
# testdata/fuzz already run as plain tests in `make test`; this adds new
# inputs on top. A crash fails the script and leaves the reproducer in
# testdata/fuzz for the commit that fixes it.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-10s}
status=0
for pkg in $(go list ./...); do
  targets=$(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true)
  for t in $targets; do
    echo "== $pkg $t ($FUZZTIME)"
    if ! go test -run '^$' -fuzz "^${t}\$" -fuzztime "$FUZZTIME" "$pkg"; then
      status=1
    fi
  done
done
exit $status
