#!/usr/bin/env bash
# PostgreSQL admission benchmark (issue 16, section 3): starts a separate
# PostgreSQL with its default durability settings (fsync on,
# synchronous_commit on: unlike .ci/postgres.sh, which turns them off for
# tests) on a private directory and port, builds the binary, posts signed
# unique /voice/incoming calls at it for 10 s from 32 keep-alive
# connections, prints the request rate and the p99 latency, then stops the
# server and PostgreSQL. Usage:
#   scripts/pg-admission-bench.sh            # or: make load-pg
#   PGDIR=/tmp/my-pg PGPORT=55458 CONCURRENCY=32 DURATION=10s scripts/pg-admission-bench.sh
#   BIN=/tmp/old/voiceagent BUILD=0 scripts/pg-admission-bench.sh   # another binary, as built
# Extra arguments go to `voiceagent simulate` (e.g. --server-env MAX_CONCURRENT_CALLS=200).
set -euo pipefail
PGDIR=${PGDIR:-/tmp/voiceagent-pg-bench}
PGPORT=${PGPORT:-55458}
CONCURRENCY=${CONCURRENCY:-32}
DURATION=${DURATION:-10s}
BIN=${BIN:-bin/voiceagent}
BUILD=${BUILD:-1}
cd "$(dirname "$0")/.."

find_bin() {
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
  done
  return 1
}
as_pg() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi
}

PGBIN=$(find_bin) || { echo "no PostgreSQL server binaries (apt-get install postgresql)" >&2; exit 1; }
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --home-dir "$PGDIR" postgres
fi
if [ -f "$PGDIR/data/postmaster.pid" ]; then
  as_pg "$PGBIN/pg_ctl -D $PGDIR/data -m fast stop" >&2 || true
fi
rm -rf "$PGDIR"
mkdir -p "$PGDIR"
[ "$(id -u)" = 0 ] && chown postgres "$PGDIR"
stop_pg() { as_pg "$PGBIN/pg_ctl -D $PGDIR/data -m fast stop" >/dev/null 2>&1 || true; }
trap stop_pg EXIT
as_pg "$PGBIN/initdb -D $PGDIR/data -U voiceagent --auth=trust -E UTF8 --no-locale" >/dev/null
# Default settings: only where it listens is set.
as_pg "$PGBIN/pg_ctl -D $PGDIR/data -l $PGDIR/log -w -o \"-k $PGDIR -h 127.0.0.1 -p $PGPORT\" start" >/dev/null
as_pg "$PGBIN/createdb -h 127.0.0.1 -p $PGPORT -U voiceagent bench"
echo "PostgreSQL $(as_pg "$PGBIN/postgres --version" | awk '{print $3}') on 127.0.0.1:$PGPORT: fsync=$(as_pg "$PGBIN/psql -h 127.0.0.1 -p $PGPORT -U voiceagent -At -c 'show fsync' bench"), synchronous_commit=$(as_pg "$PGBIN/psql -h 127.0.0.1 -p $PGPORT -U voiceagent -At -c 'show synchronous_commit' bench")"

if [ "$BUILD" = 1 ]; then make --no-print-directory build BIN="$BIN" >/dev/null; fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BIN" simulate --webhooks --concurrency "$CONCURRENCY" --duration "$DURATION" \
  --server-env "DATABASE_URL=postgres://voiceagent@127.0.0.1:$PGPORT/bench?sslmode=disable" "$@"
