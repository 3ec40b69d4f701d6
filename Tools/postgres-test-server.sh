#!/usr/bin/env bash
# A private PostgreSQL server for benchmarks and manual tests (the Swift tests have their own
# helper, Tests/TandemTestSupport/PostgresTestServer.swift, doing the same):
#   Tools/postgres-test-server.sh start DIR PORT   # initdb into DIR (unless there), start on 127.0.0.1:PORT
#   Tools/postgres-test-server.sh stop DIR
# Runs the server as the `postgres` user when called as root (PostgreSQL refuses root); the
# socket goes into DIR. Installs Debian's postgresql first when it is missing.
set -euo pipefail
command="${1:?start|stop}"
dir="${2:?data directory}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  "$(dirname "$0")/install-deps.sh"
  bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
fi
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$command" in
  start)
    port="${3:?port}"
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bin/initdb" -D "$dir/data" -U tandem --auth=trust -E UTF8 --locale=C >/dev/null
    fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1" >/dev/null
    echo "postgres://tandem@127.0.0.1:$port/postgres?sslmode=disable"
    ;;
  stop)
    as_owner "$bin/pg_ctl" -D "$dir/data" -w -m fast stop >/dev/null
    ;;
  *)
    echo "usage: $0 start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac
