# A throw-away PostgreSQL cluster for tests and benchmarks; source this file
# (bash), then `pg_cluster_start [fsync]`. It installs Debian's `postgresql`
# when no server is found (as root), runs `initdb` into a temporary
# directory as the unprivileged user `nobody`, listens on a Unix socket in
# that directory only (no TCP), and exports:
#   PG_BIN   the server's bin directory        PG_DATA  the cluster's data
#   PG_URI   a root URI for the library (schema to be added by the caller)
# `pg_cluster_stop` (registered with `trap ... EXIT` by pg_cluster_start)
# stops the server and deletes the directory. `pg_restart_immediate`
# restarts it as after a crash (`pg_ctl restart -m immediate`).

pg_find_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  done
  return 1
}

pg_as_owner() { runuser -u nobody -- "$@"; }

pg_cluster_start() {
  local fsync=${1:-off}
  if ! PG_BIN=$(pg_find_bin); then
    echo "installing postgresql (Debian)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
    PG_BIN=$(pg_find_bin) || { echo "no PostgreSQL server after installing it" >&2; return 1; }
  fi
  PG_DIR=$(mktemp -d /tmp/persistency-pg.XXXXXX)
  chmod 755 "$PG_DIR"
  mkdir "$PG_DIR/data" "$PG_DIR/sock" "$PG_DIR/log"
  chown nobody:nogroup "$PG_DIR/data" "$PG_DIR/sock" "$PG_DIR/log"
  PG_DATA=$PG_DIR/data
  trap pg_cluster_stop EXIT
  pg_as_owner "$PG_BIN/initdb" -D "$PG_DATA" -U persistency --auth=trust \
    --no-sync -E UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log" >&2; return 1; }
  cat >>"$PG_DATA/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$PG_DIR/sock'
port = 5432
max_connections = 300
fsync = $fsync
full_page_writes = $fsync
shared_buffers = 128MB
logging_collector = off
CONF
  pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DIR/log/server.log" -w -t 60 start >/dev/null \
    || { cat "$PG_DIR/log/server.log" >&2; return 1; }
  PG_URI="postgresql:///postgres?host=$PG_DIR/sock&port=5432&user=persistency"
  export PG_BIN PG_DATA PG_DIR PG_URI
}

pg_restart_immediate() {
  pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DIR/log/server.log" -w -t 60 -m immediate restart >/dev/null
}

pg_cluster_stop() {
  if [ -n "${PG_DATA:-}" ] && [ -f "$PG_DATA/postmaster.pid" ]; then
    pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  [ -n "${PG_DIR:-}" ] && rm -rf "$PG_DIR"
  PG_DATA=
}
