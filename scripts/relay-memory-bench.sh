#!/usr/bin/env bash
# Relay memory per call (issue 17): runs the relay floor and the server at
# CALLS_LOW and CALLS_HIGH calls (20 ms frames both ways), alternating, and
# prints each run's latency, CPU and RSS, the server's live memory in the
# middle of the run (heap after a forced GC and goroutine stacks, from
# PPROF_ADDR on loopback), and the steady cost of one more call: the slope
# of peak RSS (and of live memory) between the two sizes, which leaves out
# what does not grow with the calls. Usage:
#   scripts/relay-memory-bench.sh                      # bin/voiceagent, built first
#   BIN=/tmp/old/voiceagent BUILD=0 scripts/relay-memory-bench.sh   # another binary, as built
#   ROUNDS=2 scripts/relay-memory-bench.sh             # repeat (alternating) for the spread
# Extra arguments go to the server runs' `voiceagent simulate` (e.g.
# --server-env GOGC=100). Keeps every report under OUT (default a temp dir).
set -euo pipefail
BIN=${BIN:-bin/voiceagent}
BUILD=${BUILD:-1}
ROUNDS=${ROUNDS:-1}
CALLS_LOW=${CALLS_LOW:-200}
CALLS_HIGH=${CALLS_HIGH:-500}
PPROF=${PPROF:-127.0.0.1:6061}
OUT=${OUT:-$(mktemp -d /tmp/relay-memory.XXXXXX)}
cd "$(dirname "$0")/.."
if [ "$BUILD" = 1 ]; then make build >/dev/null; fi

# run LABEL CALLS [simulate args...]: one load run; for the server, a
# snapshot of its memory statistics once every call is streaming.
run() {
  local label=$1 calls=$2; shift 2
  local ramp=10s wait=17
  if [ "$calls" -gt 300 ]; then ramp=15s wait=22; fi
  local d="$OUT/$label"; mkdir -p "$d"
  uptime > "$d/uptime"
  "$BIN" simulate --load --calls "$calls" --duration 20s --ramp "$ramp" --json "$d/report.json" "$@" > "$d/out.txt" 2>&1 &
  local pid=$!
  sleep "$wait"
  curl -sf "http://$PPROF/debug/pprof/heap?debug=1&gc=1" > "$d/heap.txt" || true
  curl -sf "http://$PPROF/debug/pprof/goroutine?debug=1" > "$d/goroutines.txt" || true
  wait "$pid"
  local load peak heap stack
  load=$(sed 's/.*average: \([0-9.]*\),.*/\1/' "$d/uptime")
  peak=$(sed -nE 's/.*peak ([0-9.]+) MiB.*/\1/p' "$d/out.txt")
  heap=$(sed -nE 's/^# HeapAlloc = ([0-9]+).*/\1/p' "$d/heap.txt" 2>/dev/null)
  stack=$(sed -nE 's/^# Stack = ([0-9]+) .*/\1/p' "$d/heap.txt" 2>/dev/null)
  echo "$label calls=$calls load=$load peak_rss_mib=$peak heap_after_gc=${heap:--} stacks=${stack:--}" | tee -a "$OUT/summary"
  grep -E 'connected|->|server CPU|system calls|server RSS' "$d/out.txt" | sed 's/^/    /'
}

slope() { # slope LABEL: KiB per call between the two sizes, from peak RSS and live memory
  awk -v l="$1" -v lo="$CALLS_LOW" -v hi="$CALLS_HIGH" '
    $1 == l"-"lo { split($4, a, "="); p1 = a[2]; split($5, b, "="); h1 = b[2]; split($6, c, "="); s1 = c[2] }
    $1 == l"-"hi { split($4, a, "="); p2 = a[2]; split($5, b, "="); h2 = b[2]; split($6, c, "="); s2 = c[2] }
    END {
      n = hi - lo
      printf "%s: RSS slope %.1f KiB per call", l, (p2 - p1) * 1024 / n
      if (h1 != "-" && h2 != "-") printf "; live: heap %.1f + stacks %.1f KiB per call", (h2 - h1) / 1024 / n, (s2 - s1) / 1024 / n
      printf " (assumes every call connected: check the runs above)\n"
    }' "$OUT/summary"
}

for r in $(seq 1 "$ROUNDS"); do
  for calls in "$CALLS_LOW" "$CALLS_HIGH"; do
    run "r$r-floor-$calls" "$calls" --floor
    run "r$r-server-$calls" "$calls" --server-env "PPROF_ADDR=$PPROF" "$@"
  done
  slope "r$r-floor"
  slope "r$r-server"
done
echo "reports: $OUT"
