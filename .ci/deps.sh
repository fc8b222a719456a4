#!/usr/bin/env bash
# `make deps`: the monthly dependency routine of SECURITY.md.
#  1. lists modules with a newer version (go list -m -u all);
#  2. runs govulncheck (pinned below) against the vulnerability database,
#     GOVULNDB (default https://vuln.go.dev; file:///path for a local
#     mirror), when that database is reachable, and says plainly when it
#     is not: then nothing was checked, and the exit status stays 0 unless
#     DEPS_REQUIRE_VULNDB=1.
# Exit status 1: listing failed, or govulncheck found a vulnerability that
# the code reaches (or failed).
set -uo pipefail
cd "$(dirname "$0")/.."
GOVULNCHECK_VERSION=${GOVULNCHECK_VERSION:-v1.10.0}
status=0

echo "== module updates (go list -m -u all)"
if ! out=$(go list -m -u all 2>&1); then
  echo "$out" | tail -5
  echo "deps: FAILED to list module updates (is the module proxy reachable? GOPROXY=$(go env GOPROXY))"
  status=1
else
  updates=$(grep -F '[' <<<"$out" || true)
  if [ -n "$updates" ]; then
    echo "$updates"
    echo "-> $(wc -l <<<"$updates") modules have a newer version: [bracketed]. Update with go get <module>@<version>, then make test."
  else
    echo "every module is at its latest version"
  fi
fi

echo "== known vulnerabilities (govulncheck $GOVULNCHECK_VERSION)"
db=${GOVULNDB:-https://vuln.go.dev}
db=${db%/}
reachable() {
  case "$db" in
    file://*) [ -f "${db#file://}/index/db.json" ] ;;
    http://* | https://*)
      command -v curl >/dev/null 2>&1 || { echo "(curl not found: cannot test whether $db is reachable)"; return 1; }
      curl -fsS --max-time 10 -o /dev/null "$db/index/db.json" 2>/dev/null ;;
    *) return 1 ;;
  esac
}
if reachable; then
  if ! go run "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION" -db "$db" ./...; then
    echo "deps: govulncheck reports vulnerabilities (or failed): see above"
    status=1
  fi
else
  echo "govulncheck: NOT RUN - the vulnerability database $db is not reachable from here."
  echo "  Nothing was checked for known vulnerabilities. Run make deps where it is reachable,"
  echo "  or mirror it and point GOVULNDB at the copy: GOVULNDB=file:///srv/vulndb make deps"
  if [ "${DEPS_REQUIRE_VULNDB:-}" = 1 ]; then status=1; fi
fi
exit $status
