# A private PostgreSQL 15 for the demo (design section 8, field notes):
# PostgreSQL refuses to run as root, so it runs as the `postgres` system user
# from a data directory that user owns, on loopback, with trust
# authentication (the demo's server is private and short-lived).
#   postgres_start DIR   sets PG_PORT; postgres_stop DIR; postgres_sql DIR SQL
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

postgres_as() { (cd / && runuser -u postgres -- "$@"); }

postgres_start() {
  local dir=$1
  id -u postgres >/dev/null 2>&1 || useradd -r -s /usr/sbin/nologin postgres
  mkdir -p "$dir"
  chown postgres: "$dir"
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  postgres_as "$PG_BIN/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C.UTF-8 --auth-local=trust \
    --auth-host=trust >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
  postgres_as "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $PG_PORT -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null \
    || { cat "$dir/server.log" >&2; return 1; }
  echo "$dir" >>"${PG_STARTED_LIST:-/dev/null}"
}

postgres_stop() {
  local dir=$1
  [ -d "$dir/data" ] || return 0
  postgres_as "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

postgres_sql() {
  local dir=$1
  shift
  (cd / && runuser -u postgres -- psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -XAtq -v ON_ERROR_STOP=1 -c "$*")
}
