#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and benchmarks.
#
#   scripts/pgtest.sh start   start (or reuse) the cluster; prints its URL on stdout
#   scripts/pgtest.sh url     print the URL of the running cluster
#   scripts/pgtest.sh stop    stop the cluster and delete its files (no-op if none)
#
# Usage: url="$(scripts/pgtest.sh start)"; trap 'scripts/pgtest.sh stop' EXIT
#
# Only the URL goes to stdout; progress and errors go to stderr. The cluster is
# our own (initdb + pg_ctl), never Debian's pg_ctlcluster service, so it works
# in containers without an init system and never touches a system cluster.
# Durability is switched off unless NEURONX_PGTEST_DURABLE=1: the data is
# thrown away on stop anyway.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# NEURONX_PGTEST_STATE_DIR lets two checkouts or two runs keep separate clusters.
state_dir="${NEURONX_PGTEST_STATE_DIR:-$repo_root/.pgtest}"
state_file="$state_dir/state"

log() { printf 'pgtest: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# CI runs as root; a developer running as themselves needs sudo for apt-get.
as_admin() {
    if is_root; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

# initdb, pg_ctl and postgres refuse to run as root, and CI runs as root.
as_pg() {
    if is_root; then
        # cd first: postgres cannot necessarily read the caller's cwd (/root).
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

find_bindir() {
    local initdb
    if initdb="$(command -v initdb 2>/dev/null)"; then
        # Resolve symlinks so pg_ctl comes from the same installation.
        dirname "$(readlink -f "$initdb")"
        return 0
    fi
    # Debian keeps the server binaries off PATH; prefer the newest version.
    initdb="$(ls -1d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -n "$initdb" ]; then
        dirname "$initdb"
        return 0
    fi
    return 1
}

ensure_bindir() {
    if bindir="$(find_bindir)"; then
        return 0
    fi
    log "initdb not found; installing Debian's postgresql package"
    as_admin apt-get update -qq >&2
    as_admin env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    bindir="$(find_bindir)" || die "initdb still not found after installing postgresql"
}

ensure_postgres_user() {
    is_root || return 0
    id -u postgres >/dev/null 2>&1 && return 0
    log "creating system user postgres"
    local group_opt=()
    # useradd would refuse to create a same-named group that already exists.
    if getent group postgres >/dev/null 2>&1; then
        group_opt=(-g postgres)
    fi
    useradd --system "${group_opt[@]}" --no-create-home \
        --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
}

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

url_for() { printf 'postgresql://postgres@127.0.0.1:%s/postgres\n' "$1"; }

load_state() {
    PGTEST_DIR="" PGTEST_PORT="" PGTEST_BINDIR=""
    [ -f "$state_file" ] || return 1
    # shellcheck disable=SC1090
    . "$state_file"
    [ -n "$PGTEST_DIR" ] && [ -n "$PGTEST_PORT" ] && [ -n "$PGTEST_BINDIR" ]
}

is_running() {
    [ -d "$PGTEST_DIR/data" ] && [ -x "$PGTEST_BINDIR/pg_ctl" ] \
        && as_pg "$PGTEST_BINDIR/pg_ctl" status -D "$PGTEST_DIR/data" >/dev/null 2>&1
}

cmd_stop() {
    if ! load_state; then
        rm -f "$state_file"
        return 0
    fi
    if is_running; then
        log "stopping cluster on port $PGTEST_PORT"
        as_pg "$PGTEST_BINDIR/pg_ctl" -D "$PGTEST_DIR/data" -m immediate -w stop >/dev/null 2>&1 \
            || log "pg_ctl stop failed; removing files anyway"
    fi
    # Guard the rm: the state file is ours, but never delete something odd.
    case "$PGTEST_DIR" in
        */neuronx-pgtest.*) rm -rf -- "$PGTEST_DIR" ;;
        *) log "not deleting unexpected directory $PGTEST_DIR" ;;
    esac
    rm -f "$state_file"
}

cmd_url() {
    load_state && is_running || die "no cluster running (run: $0 start)"
    url_for "$PGTEST_PORT"
}

cmd_start() {
    if load_state && is_running; then
        log "reusing cluster on port $PGTEST_PORT"
        url_for "$PGTEST_PORT"
        return 0
    fi
    # A state file whose cluster is gone (crash, reboot): clean it up first.
    cmd_stop

    ensure_bindir
    ensure_postgres_user

    # Outside the repo on purpose: the postgres user must be able to reach it
    # (the checkout may sit under /root), and unix socket paths are limited to
    # ~100 bytes, which a deep checkout path could exceed.
    local dir
    dir="$(mktemp -d "${TMPDIR:-/tmp}/neuronx-pgtest.XXXXXX")"
    mkdir -p "$state_dir"
    # Record the dir before anything can fail, so `stop` can clean up.
    {
        printf 'PGTEST_DIR=%q\n' "$dir"
        printf 'PGTEST_PORT=%q\n' "pending"
        printf 'PGTEST_BINDIR=%q\n' "$bindir"
    } >"$state_file"
    # From here on, a failed start leaves nothing behind.
    trap 'status=$?; if [ $status -ne 0 ]; then cmd_stop; fi' EXIT

    if is_root; then
        chown postgres: "$dir"
    fi

    # --locale=C: the machine may have no generated locales; UTF8 regardless.
    if ! as_pg "$bindir/initdb" -D "$dir/data" -A trust -U postgres --no-sync \
        --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        die "initdb failed"
    fi

    cat >>"$dir/data/postgresql.conf" <<EOF

# throwaway test cluster
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 200
EOF
    # Tests throw the data away, so they skip the disk; benchmarks set
    # NEURONX_PGTEST_DURABLE=1 to measure commits as production pays for them.
    if [ "${NEURONX_PGTEST_DURABLE:-0}" != 1 ]; then
        cat >>"$dir/data/postgresql.conf" <<EOF
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    fi

    # The port is free when picked but may be taken before postgres binds it;
    # retry with another one rather than fail the whole test run.
    local port attempt
    for attempt in 1 2 3 4 5; do
        port="$(free_port)"
        if as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" \
            -o "-p $port" -w -t 60 start >/dev/null 2>&1; then
            {
                printf 'PGTEST_DIR=%q\n' "$dir"
                printf 'PGTEST_PORT=%q\n' "$port"
                printf 'PGTEST_BINDIR=%q\n' "$bindir"
            } >"$state_file"
            trap - EXIT
            log "cluster running on port $port (data in $dir)"
            url_for "$port"
            return 0
        fi
        if ! grep -q 'could not bind\|Address already in use' "$dir/postgres.log" 2>/dev/null; then
            break
        fi
        log "port $port was taken (attempt $attempt); retrying"
        as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
        : >"$dir/postgres.log"
    done
    tail -n 50 "$dir/postgres.log" >&2 || true
    die "could not start postgres"
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    url) cmd_url ;;
    *)
        echo "usage: $0 start|stop|url" >&2
        exit 2
        ;;
esac
