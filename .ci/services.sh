#!/usr/bin/env bash
# Throw-away PostgreSQL + Redis for CI, bound to 127.0.0.1 only.
#
#   eval "$(bash .ci/services.sh start)"   # prints `export HELPDESK_TEST_...=...` lines
#   bash .ci/services.sh stop              # idempotent; stops both, removes temp dirs
#   bash .ci/services.sh status
#
# Only the export lines go to stdout; all logs go to stderr.
# Installs Debian's postgresql / redis-server if the binaries are missing (needs root).
# State (pids, ports, dirs) lives in .ci/work/state (gitignored).
#
# Env knobs: HELPDESK_CI_PG_PORT (default 55432), HELPDESK_CI_REDIS_PORT (default 56379),
#            HELPDESK_CI_WAIT (seconds to wait for readiness, default 60).
set -euo pipefail

# Keep the real stdout on fd 3 for the export lines; everything else goes to stderr.
exec 3>&1 1>&2

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK_DIR="$ROOT/.ci/work"
STATE_FILE="$WORK_DIR/state"
TMP_PREFIX="helpdesk-ci."
DB_NAME="helpdesk_test"
WAIT_SECS="${HELPDESK_CI_WAIT:-60}"
export DEBIAN_FRONTEND=noninteractive

log() { printf '[services] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a command as the postgres user (PostgreSQL refuses to run as root).
as_pg() {
    if is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

# Highest-versioned /usr/lib/postgresql/<ver>/bin that has the server binaries.
find_pg_bin() {
    local d best=""
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
            best="$d"
        fi
    done
    [ -n "$best" ] && printf '%s\n' "$best"
}

have_redis() { [ -x /usr/bin/redis-server ] || command -v redis-server >/dev/null 2>&1; }
have_redis_cli() { command -v redis-cli >/dev/null 2>&1; }

ensure_packages() {
    local pkgs=()
    [ -n "$(find_pg_bin)" ] || pkgs+=(postgresql)
    { have_redis && have_redis_cli; } || pkgs+=(redis-server)
    if [ "${#pkgs[@]}" -eq 0 ]; then
        log "postgresql and redis-server already installed"
        return 0
    fi
    is_root || die "missing packages (${pkgs[*]}) and not root; install them first"
    command -v apt-get >/dev/null 2>&1 || die "missing packages (${pkgs[*]}) and no apt-get"

    # Stop the packages' maintainer scripts from starting their default
    # services (we start our own private instances below).
    local policy=/usr/sbin/policy-rc.d created_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        created_policy=1
    fi
    log "installing: ${pkgs[*]}"
    local rc=0
    {
        apt-get -qq update &&
        apt-get -y -qq -o Dpkg::Use-Pty=0 -o Dpkg::Options::=--force-confdef \
            -o Dpkg::Options::=--force-confold install "${pkgs[@]}"
    } >&2 || rc=$?
    [ -n "$created_policy" ] && rm -f "$policy"
    [ "$rc" -eq 0 ] || die "apt-get install ${pkgs[*]} failed (rc=$rc)"
    [ -n "$(find_pg_bin)" ] || die "postgres binaries still missing after install"
    have_redis || die "redis-server still missing after install"
    have_redis_cli || die "redis-cli still missing after install"
}

port_free() {
    python3 - "$1" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# Like postgres/redis themselves: TIME_WAIT leftovers don't make a port busy.
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
}

pick_port() {
    local port="$1" avoid="${2:-}" i
    for i in $(seq 0 199); do
        if [ "$port" != "$avoid" ] && port_free "$port"; then
            printf '%s\n' "$port"
            return 0
        fi
        port=$((port + 1))
    done
    return 1
}

# --- state file: simple KEY=VALUE lines, parsed (never sourced) -------------
state_set() {
    mkdir -p "$WORK_DIR"
    local tmp="$STATE_FILE.tmp"
    { [ -f "$STATE_FILE" ] && grep -v "^$1=" "$STATE_FILE" || true; } >"$tmp"
    printf '%s=%s\n' "$1" "$2" >>"$tmp"
    mv -f "$tmp" "$STATE_FILE"
}
state_get() {
    [ -f "$STATE_FILE" ] || return 0
    sed -n "s/^$1=//p" "$STATE_FILE" | tail -n 1
}

pid_alive_as() {  # pid, expected process name substring
    local pid="$1" name="$2"
    [ -n "$pid" ] && [ "$pid" -gt 0 ] 2>/dev/null || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # A zombie (killed, not yet reaped) counts as gone.
    [ "$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null)" != "Z" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$name"
}

wait_gone() {  # pid, seconds
    local pid="$1" n=$(( $2 * 10 ))
    while [ "$n" -gt 0 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; n=$((n - 1)); done
    ! kill -0 "$pid" 2>/dev/null
}

safe_tmpdir() {  # only ever delete dirs we created
    case "$1" in
        /tmp/"$TMP_PREFIX"?*) [ -d "$1" ] && [ ! -L "$1" ] ;;
        *) return 1 ;;
    esac
}

do_stop() {
    if [ ! -f "$STATE_FILE" ]; then
        log "nothing to stop (no state file)"
        return 0
    fi
    local pg_bin pg_data pg_pid redis_pid redis_pidfile redis_port tmp
    pg_bin="$(state_get PG_BIN)"
    pg_data="$(state_get PG_DATA)"
    redis_pidfile="$(state_get REDIS_PIDFILE)"
    redis_pid="$(state_get REDIS_PID)"
    redis_port="$(state_get REDIS_PORT)"
    tmp="$(state_get TMP_DIR)"

    # PostgreSQL
    if [ -n "$pg_data" ] && [ -f "$pg_data/postmaster.pid" ]; then
        pg_pid="$(head -n 1 "$pg_data/postmaster.pid" 2>/dev/null || true)"
        log "stopping postgres (pid ${pg_pid:-?})"
        if [ -x "$pg_bin/pg_ctl" ] && pid_alive_as "$pg_pid" postgres; then
            as_pg "$pg_bin/pg_ctl" -D "$pg_data" -m fast -w -t 30 stop </dev/null >&2 3>&- || true
        fi
        if pid_alive_as "$pg_pid" postgres; then
            log "postgres still alive; sending SIGQUIT/SIGKILL"
            kill -QUIT "$pg_pid" 2>/dev/null || true
            wait_gone "$pg_pid" 5 || kill -KILL "$pg_pid" 2>/dev/null || true
        fi
    fi

    # Redis
    if [ -n "$redis_pidfile" ] && [ -f "$redis_pidfile" ]; then
        redis_pid="$(cat "$redis_pidfile" 2>/dev/null || echo "$redis_pid")"
    fi
    if pid_alive_as "$redis_pid" redis-server; then
        log "stopping redis (pid $redis_pid)"
        if [ -n "$redis_port" ] && have_redis_cli; then
            redis-cli -h 127.0.0.1 -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
        fi
        wait_gone "$redis_pid" 5 || kill -TERM "$redis_pid" 2>/dev/null || true
        wait_gone "$redis_pid" 5 || kill -KILL "$redis_pid" 2>/dev/null || true
    fi

    if [ -n "$tmp" ] && safe_tmpdir "$tmp"; then
        log "removing $tmp"
        rm -rf -- "$tmp"
    fi
    rm -f "$STATE_FILE"
    log "stopped"
}

wait_for() {  # description, command...
    local what="$1"; shift
    local deadline=$(( $(date +%s) + WAIT_SECS ))
    until "$@" >/dev/null 2>&1; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            log "timed out after ${WAIT_SECS}s waiting for $what"
            return 1
        fi
        sleep 0.5
    done
    log "$what is ready"
}

redis_ping() { [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = "PONG" ]; }

do_start() {
    if [ -f "$STATE_FILE" ]; then
        log "found state from a previous run; cleaning it up first"
        do_stop
    fi
    ensure_packages
    command -v python3 >/dev/null 2>&1 || die "python3 is required (free-port check)"

    local pg_bin pg_port redis_port tmp pg_data sock redis_dir
    pg_bin="$(find_pg_bin)"
    pg_port="$(pick_port "${HELPDESK_CI_PG_PORT:-55432}")" || die "no free port for postgres"
    redis_port="$(pick_port "${HELPDESK_CI_REDIS_PORT:-56379}" "$pg_port")" \
        || die "no free port for redis"

    tmp="$(mktemp -d "/tmp/${TMP_PREFIX}XXXXXX")"
    pg_data="$tmp/pgdata"
    sock="$tmp/pgsock"
    redis_dir="$tmp/redis"
    mkdir -p "$sock" "$redis_dir"
    # Record state right away so `stop` can clean up even if start fails midway.
    state_set TMP_DIR "$tmp"
    state_set PG_BIN "$pg_bin"
    state_set PG_DATA "$pg_data"
    state_set PG_PORT "$pg_port"
    state_set REDIS_PORT "$redis_port"
    state_set REDIS_PIDFILE "$redis_dir/redis.pid"
    # On any failure below, tear down whatever was started.
    trap 'rc=$?; if [ "$rc" -ne 0 ]; then log "start failed (rc=$rc); cleaning up"; do_stop || true; fi' EXIT

    if is_root; then
        chown -R postgres: "$tmp"
    fi
    chmod 700 "$tmp"

    # --- PostgreSQL -------------------------------------------------------
    log "postgres: $pg_bin, data $pg_data, port $pg_port"
    as_pg "$pg_bin/initdb" -D "$pg_data" -A trust -U postgres -E UTF8 --locale=C >"$tmp/initdb.log" 2>&1 \
        || { cat "$tmp/initdb.log" >&2; die "initdb failed"; }
    # Daemons must not inherit fd 3 (the caller's $(...) pipe) or our stderr,
    # otherwise the caller's command substitution / log pipe never sees EOF.
    if ! as_pg "$pg_bin/pg_ctl" -D "$pg_data" -l "$tmp/postgres.log" -w -t "$WAIT_SECS" \
            -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $sock -c fsync=off" start \
            </dev/null >"$tmp/pg_ctl.log" 2>&1 3>&-; then
        cat "$tmp/pg_ctl.log" "$tmp/postgres.log" >&2 || true
        die "postgres failed to start"
    fi
    wait_for "postgres on 127.0.0.1:$pg_port" \
        "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port" -U postgres \
        || { cat "$tmp/postgres.log" >&2 || true; die "postgres not ready"; }
    as_pg "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres "$DB_NAME" >&2 \
        || die "createdb $DB_NAME failed"
    log "created database $DB_NAME"

    # --- Redis ------------------------------------------------------------
    log "redis: port $redis_port, dir $redis_dir"
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize yes --pidfile "$redis_dir/redis.pid" --dir "$redis_dir" \
        --logfile "$redis_dir/redis.log" </dev/null >"$redis_dir/redis-start.log" 2>&1 3>&- \
        || { cat "$redis_dir/redis-start.log" "$redis_dir/redis.log" >&2 2>/dev/null || true; die "redis-server failed to start"; }
    if ! wait_for "redis on 127.0.0.1:$redis_port" redis_ping "$redis_port"; then
        cat "$redis_dir/redis.log" >&2 2>/dev/null || true
        die "redis not ready"
    fi
    state_set REDIS_PID "$(cat "$redis_dir/redis.pid" 2>/dev/null || true)"
    state_set PG_PID "$(head -n 1 "$pg_data/postmaster.pid" 2>/dev/null || true)"

    trap - EXIT
    printf 'export HELPDESK_TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:%s/%s\n' \
        "$pg_port" "$DB_NAME" >&3
    printf 'export HELPDESK_TEST_REDIS_URL=redis://127.0.0.1:%s/0\n' "$redis_port" >&3
}

do_status() {
    if [ ! -f "$STATE_FILE" ]; then
        log "not running (no state file)"
        return 1
    fi
    cat "$STATE_FILE" >&2
    local rc=0 pg_bin pg_port redis_port
    pg_bin="$(state_get PG_BIN)"; pg_port="$(state_get PG_PORT)"; redis_port="$(state_get REDIS_PORT)"
    if "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port" 2>/dev/null; then
        log "postgres: up on $pg_port"
    else
        log "postgres: DOWN"; rc=1
    fi
    if redis_ping "$redis_port"; then log "redis: up on $redis_port"; else log "redis: DOWN"; rc=1; fi
    return "$rc"
}

case "${1:-}" in
    start) do_start ;;
    stop) do_stop ;;
    restart) do_stop; do_start ;;
    status) do_status ;;
    *) echo "usage: $0 {start|stop|restart|status}" >&2; exit 2 ;;
esac
