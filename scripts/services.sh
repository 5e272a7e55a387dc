#!/usr/bin/env bash
# Makes sure a PostgreSQL and a Redis answer for the scale-out test suites.
# Sourced by scripts/test.sh (`source scripts/services.sh`); exports
# NATTER_TEST_DATABASE_URL and NATTER_TEST_REDIS_URL.
#
# - A URL that is already set is used as it is.
# - A server answering on its standard local port (PostgreSQL 5432, Redis
#   6379) is used: only the URL is exported.
# - Otherwise a throwaway server is started from Debian's packages
#   (installed with apt-get when missing) in a temporary directory, on a
#   free port, and stopped (directory and all) when the sourcing shell exits.
#
# NATTER_SERVICES_PG_PORT and NATTER_SERVICES_REDIS_PORT change the port that
# is checked first, e.g. to try the throwaway path on a machine that does
# run the standard servers.

natter_services_pg_port="${NATTER_SERVICES_PG_PORT:-5432}"
natter_services_redis_port="${NATTER_SERVICES_REDIS_PORT:-6379}"
natter_services_dir=""
natter_services_pg_ctl=""
natter_services_pg_user=""
natter_services_redis_pid=""

# True when something accepts TCP connections on 127.0.0.1:$1.
natter_services_listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

natter_services_pg_answers() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h 127.0.0.1 -p "$1" -t 3
  else
    natter_services_listening "$1"
  fi
}

natter_services_redis_answers() {
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = "PONG" ]
  else
    natter_services_listening "$1"
  fi
}

# A port nothing listens on. Another process may take it before the server
# binds; the server then fails to start, loudly.
natter_services_free_port() {
  local port
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 40000))
    if ! natter_services_listening "$port"; then
      echo "$port"
      return 0
    fi
  done
  echo "no free port found" >&2
  return 1
}

natter_services_apt_install() {
  echo "== installing $*"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Runs a command as the unprivileged owner of the throwaway cluster:
# PostgreSQL refuses to run as root.
natter_services_as_pg_user() {
  if [ "$(id -u)" != "0" ]; then
    "$@"
  elif command -v runuser >/dev/null 2>&1; then
    runuser -u "$natter_services_pg_user" -- "$@"
  else
    su -s /bin/sh "$natter_services_pg_user" -c "$(printf '%q ' "$@")"
  fi
}

natter_services_workdir() {
  if [ -z "$natter_services_dir" ]; then
    natter_services_dir="$(mktemp -d "${TMPDIR:-/tmp}/natter-services.XXXXXX")"
  fi
}

natter_services_start_postgres() {
  local initdb bindir port
  initdb="$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -z "$initdb" ]; then
    natter_services_apt_install postgresql
    initdb="$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -z "$initdb" ]; then
      echo "the postgresql package did not provide initdb" >&2
      return 1
    fi
  fi
  bindir="$(dirname "$initdb")"
  natter_services_workdir
  if [ "$(id -u)" = "0" ]; then
    # The package creates the `postgres` system user; without it, nobody.
    if id postgres >/dev/null 2>&1; then
      natter_services_pg_user=postgres
    else
      natter_services_pg_user=nobody
    fi
  fi
  mkdir -p "$natter_services_dir/pg/socket" || return 1
  if [ -n "$natter_services_pg_user" ]; then
    chown -R "$natter_services_pg_user" "$natter_services_dir/pg" || return 1
    # The owner must reach its directory through the temporary one.
    chmod 711 "$natter_services_dir" || return 1
  fi
  port="$(natter_services_free_port)"
  echo "== starting a throwaway PostgreSQL ($(basename "$(dirname "$bindir")")) on 127.0.0.1:$port"
  natter_services_as_pg_user "$initdb" -D "$natter_services_dir/pg/data" \
    -A trust -U postgres -E UTF8 --no-locale --no-sync >"$natter_services_dir/initdb.log" 2>&1 || {
    cat "$natter_services_dir/initdb.log" >&2
    return 1
  }
  natter_services_pg_ctl="$bindir/pg_ctl"
  # fsync off: the data is thrown away, and tests commit a lot.
  natter_services_as_pg_user "$natter_services_pg_ctl" -D "$natter_services_dir/pg/data" \
    -l "$natter_services_dir/pg/server.log" -w -t 60 \
    -o "-p $port -k $natter_services_dir/pg/socket -c listen_addresses=127.0.0.1 -c fsync=off" \
    start >/dev/null || {
    cat "$natter_services_dir/pg/server.log" >&2
    return 1
  }
  # The URL names the database `test`, as the standard local setup does.
  "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres test || return 1
  export NATTER_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/test"
}

natter_services_start_redis() {
  local port
  if ! command -v redis-server >/dev/null 2>&1; then
    natter_services_apt_install redis-server
  fi
  natter_services_workdir
  mkdir -p "$natter_services_dir/redis" || return 1
  port="$(natter_services_free_port)"
  echo "== starting a throwaway Redis on 127.0.0.1:$port"
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
    --daemonize yes --dir "$natter_services_dir/redis" \
    --pidfile "$natter_services_dir/redis/redis.pid" \
    --logfile "$natter_services_dir/redis/redis.log" || return 1
  # Daemonized, it answers only after a moment: wait for it, bounded.
  for _ in $(seq 1 100); do
    if natter_services_redis_answers "$port"; then
      natter_services_redis_pid="$(cat "$natter_services_dir/redis/redis.pid")"
      export NATTER_TEST_REDIS_URL="redis://127.0.0.1:$port"
      return 0
    fi
    sleep 0.1
  done
  cat "$natter_services_dir/redis/redis.log" >&2
  return 1
}

# Stops what this script started, and only that.
natter_services_stop() {
  if [ -n "$natter_services_pg_ctl" ]; then
    natter_services_as_pg_user "$natter_services_pg_ctl" -D "$natter_services_dir/pg/data" \
      -m fast -w stop >/dev/null 2>&1 || true
    natter_services_pg_ctl=""
  fi
  if [ -n "$natter_services_redis_pid" ]; then
    kill "$natter_services_redis_pid" 2>/dev/null || true
    natter_services_redis_pid=""
  fi
  if [ -n "$natter_services_dir" ]; then
    rm -rf "$natter_services_dir"
    natter_services_dir=""
  fi
}

natter_services_main() {
  if [ -z "${NATTER_TEST_DATABASE_URL:-}" ]; then
    if natter_services_pg_answers "$natter_services_pg_port"; then
      export NATTER_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$natter_services_pg_port/test"
    else
      natter_services_start_postgres || return 1
    fi
  fi
  if [ -z "${NATTER_TEST_REDIS_URL:-}" ]; then
    if natter_services_redis_answers "$natter_services_redis_port"; then
      export NATTER_TEST_REDIS_URL="redis://127.0.0.1:$natter_services_redis_port"
    else
      natter_services_start_redis || return 1
    fi
  fi
  # The cluster tests start (and restart) a Redis of their own.
  if ! command -v redis-server >/dev/null 2>&1; then
    natter_services_apt_install redis-server || return 1
  fi
  echo "== services: PostgreSQL $NATTER_TEST_DATABASE_URL, Redis $NATTER_TEST_REDIS_URL"
}

# Keeps an EXIT trap the sourcing script set, and runs it after ours.
natter_services_previous_trap="$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")"
trap 'natter_services_stop; eval "$natter_services_previous_trap"' EXIT

if ! natter_services_main; then
  natter_services_stop
  echo "services.sh: could not provide PostgreSQL and Redis for the tests" >&2
  return 1 2>/dev/null || exit 1
fi
