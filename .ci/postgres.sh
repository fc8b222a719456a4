#!/usr/bin/env bash
# Starts a throwaway PostgreSQL on loopback for the test suite and prints
# the export line for its URL. Usage:
#   eval "$(.ci/postgres.sh start)"   # exports VOICEAGENT_TEST_POSTGRES_URL
#   .ci/postgres.sh stop
# Installs the Debian package when no server binaries are found, and runs the
# server as the unprivileged "postgres" user when called as root.
set -euo pipefail
PGDIR=${PGDIR:-/tmp/voiceagent-pg}
PGPORT=${PGPORT:-55432}

find_bin() {
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
  done
  return 1
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    su postgres -s /bin/bash -c "$*"
  else
    bash -c "$*"
  fi
}

case "${1:-start}" in
start)
  if ! BIN=$(find_bin); then
    echo "installing postgresql" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    BIN=$(find_bin)
  fi
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir "$PGDIR" postgres
  fi
  if [ -f "$PGDIR/data/postmaster.pid" ]; then
    as_pg "$BIN/pg_ctl -D $PGDIR/data -m fast stop" >&2 || true
  fi
  rm -rf "$PGDIR"
  mkdir -p "$PGDIR"
  [ "$(id -u)" = 0 ] && chown postgres "$PGDIR"
  as_pg "$BIN/initdb -D $PGDIR/data -U voiceagent --auth=trust -E UTF8 --no-locale" >/dev/null
  as_pg "$BIN/pg_ctl -D $PGDIR/data -l $PGDIR/log -w -o \"-k $PGDIR -h 127.0.0.1 -p $PGPORT -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300\" start" >&2
  as_pg "$BIN/createdb -h 127.0.0.1 -p $PGPORT -U voiceagent voiceagent_test"
  echo "export VOICEAGENT_TEST_POSTGRES_URL=postgres://voiceagent@127.0.0.1:$PGPORT/voiceagent_test?sslmode=disable"
  ;;
stop)
  BIN=$(find_bin)
  as_pg "$BIN/pg_ctl -D $PGDIR/data -m fast stop" >&2 || true
  ;;
*)
  echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
