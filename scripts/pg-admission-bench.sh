#!/usr/bin/env bash
# Admission benchmark (issues 16 and 17): posts unique /voice/incoming calls
# at a freshly started server (`voiceagent simulate --webhooks`, a child
# process) and prints the request rate, the latency percentiles and the
# server's CPU per request. On PostgreSQL (the default) it first starts a
# separate PostgreSQL with its default durability settings (fsync on,
# synchronous_commit on: unlike .ci/postgres.sh, which turns them off for
# tests) on a private directory and port, with a fresh database for every
# run, and stops it at the end. Usage:
#   scripts/pg-admission-bench.sh                          # or: make load-pg
#   PGDIR=/tmp/my-pg PGPORT=25458 CONCURRENCY=32 DURATION=10s scripts/pg-admission-bench.sh
#   BIN=/tmp/old/voiceagent BUILD=0 scripts/pg-admission-bench.sh   # another binary, as built
#   CONCURRENCY="1 8 32 128" ENGINE=sqlite scripts/pg-admission-bench.sh   # one run per value
#   UNSIGNED=1 scripts/pg-admission-bench.sh   # unsigned (refused) requests; prints the rows they wrote
#   BURSTS=20 scripts/pg-admission-bench.sh    # 20 bursts (64 calls at once, 2 s), each on a fresh server
# Extra arguments go to `voiceagent simulate` (e.g. --server-env MAX_CONCURRENT_CALLS=200).
set -euo pipefail
ENGINE=${ENGINE:-postgres}
PGDIR=${PGDIR:-/tmp/voiceagent-pg-bench}
PGPORT=${PGPORT:-25458} # below the ephemeral range (32768-60999), where a client socket once held 55458
CONCURRENCY=${CONCURRENCY:-32}
DURATION=${DURATION:-10s}
BIN=${BIN:-bin/voiceagent}
BUILD=${BUILD:-1}
UNSIGNED=${UNSIGNED:-0}
BURSTS=${BURSTS:-0}
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
psql_bench() { as_pg "$PGBIN/psql -h 127.0.0.1 -p $PGPORT -U voiceagent -At -c \"$1\" bench"; }

start_pg() {
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
  trap stop_pg EXIT
  as_pg "$PGBIN/initdb -D $PGDIR/data -U voiceagent --auth=trust -E UTF8 --no-locale" >/dev/null
  # Default settings: only where it listens is set.
  as_pg "$PGBIN/pg_ctl -D $PGDIR/data -l $PGDIR/log -w -o \"-k $PGDIR -h 127.0.0.1 -p $PGPORT\" start" >/dev/null
  as_pg "$PGBIN/createdb -h 127.0.0.1 -p $PGPORT -U voiceagent bench"
  echo "PostgreSQL $(as_pg "$PGBIN/postgres --version" | awk '{print $3}') on 127.0.0.1:$PGPORT: fsync=$(psql_bench 'show fsync'), synchronous_commit=$(psql_bench 'show synchronous_commit')"
}
stop_pg() { as_pg "$PGBIN/pg_ctl -D $PGDIR/data -m fast stop" >/dev/null 2>&1 || true; }
# pg_cpu prints the CPU time (clock ticks) PostgreSQL has used: the
# postmaster, its live processes and the backends that have exited.
pg_cpu() {
  local pm t=0 p
  pm=$(head -1 "$PGDIR/data/postmaster.pid")
  t=$(awk '{print $14+$15+$16+$17}' "/proc/$pm/stat")
  for p in $(pgrep -P "$pm"); do
    t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}
fresh_db() {
  as_pg "$PGBIN/dropdb -h 127.0.0.1 -p $PGPORT -U voiceagent --if-exists bench"
  as_pg "$PGBIN/createdb -h 127.0.0.1 -p $PGPORT -U voiceagent bench"
}

# rows_written prints what the run wrote: on PostgreSQL the rows inserted,
# updated and deleted per table (pg_stat_user_tables, complete once the
# server's connections have closed); on SQLite the rows in each table of
# the kept database, which started empty but for the migrations' seed rows.
rows_written() {
  if [ "$ENGINE" = postgres ]; then
    echo "rows written (insert+update+delete, by table): $(psql_bench "SELECT COALESCE(string_agg(relname || '=' || (n_tup_ins + n_tup_upd + n_tup_del), ' ' ORDER BY relname), '-') FROM pg_stat_user_tables WHERE n_tup_ins + n_tup_upd + n_tup_del > 0 AND relname NOT LIKE 'goose%'")"
  else
    python3 - "$1" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'goose%' ORDER BY name")]
counts = [(n, db.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0]) for n in names]
print("rows in the database after the run (by table): " + (" ".join(f"{n}={c}" for n, c in counts if c) or "-"))
EOF
  fi
}

if [ "$BUILD" = 1 ]; then make --no-print-directory build BIN="$BIN" >/dev/null; fi
SERVER_ENV=()
if [ "$ENGINE" = postgres ]; then
  start_pg
  SERVER_ENV=(--server-env "DATABASE_URL=postgres://voiceagent@127.0.0.1:$PGPORT/bench?sslmode=disable")
else
  echo "SQLite (a fresh file in the child server's temporary DATA_DIR)"
fi
EXTRA=()
if [ "$UNSIGNED" = 1 ]; then EXTRA+=(--unsigned --keep); fi

run() { # concurrency duration [args]
  local c=$1 d=$2; shift 2
  local syncs=0 xids=0 pgcpu=0
  if [ "$ENGINE" = postgres ]; then
    fresh_db
    syncs=$(psql_bench 'SELECT wal_sync FROM pg_stat_wal')
    xids=$(psql_bench 'SELECT txid_snapshot_xmax(txid_current_snapshot())')
    pgcpu=$(pg_cpu)
  fi
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  local out
  out=$("$BIN" simulate --webhooks --concurrency "$c" --duration "$d" "${SERVER_ENV[@]}" "${EXTRA[@]}" "$@")
  echo "$out"
  if [ "$ENGINE" = postgres ]; then
    sleep 1 # the server's backends report their counts as they exit
    # Write transactions (transaction ids handed out) against WAL flushes
    # (fsyncs): how many commits each flush carried.
    pgcpu=$(($(pg_cpu) - pgcpu))
    local reqs
    reqs=$(sed -n 's/.*: \([0-9]*\) requests in .*/\1/p' <<<"$out")
    echo "PostgreSQL: $(($(psql_bench 'SELECT txid_snapshot_xmax(txid_current_snapshot())') - xids)) write transactions, $(($(psql_bench 'SELECT wal_sync FROM pg_stat_wal') - syncs)) WAL flushes, CPU $(awk -v t="$pgcpu" -v hz="$(getconf CLK_TCK)" -v n="${reqs:-0}" 'BEGIN { printf "%.2f s (%.3f ms per request)", t / hz, (n > 0 ? t / hz * 1000 / n : 0) }')"
  fi
  if [ "$UNSIGNED" = 1 ]; then
    local dir
    dir=$(sed -n 's/^server log kept: \(.*\)\/server.log$/\1/p' <<<"$out")
    rows_written "$dir/data/voiceagent.db"
    [ -n "$dir" ] && rm -rf "$dir"
  fi
  LAST_OUT=$out
}

if [ "$BURSTS" -gt 0 ]; then
  stalled=0
  for i in $(seq "$BURSTS"); do
    echo "== burst $i of $BURSTS: 64 calls at once for 2 s, a fresh server"
    run 64 2s "$@"
    # A stall: requests left unanswered (transport errors) or almost none answered.
    if ! grep -q 'transport errors 0$' <<<"$LAST_OUT" || [ "$(sed -n 's/.*= \([0-9]*\) req\/s.*/\1/p' <<<"$LAST_OUT")" -lt 50 ]; then
      stalled=$((stalled + 1))
    fi
  done
  echo "bursts: $BURSTS, stalled: $stalled"
  [ "$stalled" = 0 ]
  exit
fi
for c in $CONCURRENCY; do
  run "$c" "$DURATION" "$@"
done
