# Throwaway PostgreSQL cluster on 127.0.0.1 for the tests; sourced by scripts/test.sh.
# PostgreSQL refuses to run as root, so the cluster belongs to the 'postgres' user that
# Debian's package creates.
pg_start() {
    local bindir
    bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    PG_DIR=$(mktemp -d /tmp/yikou-pg.XXXXXX)
    chown postgres: "$PG_DIR"
    PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    runuser -u postgres -- "$bindir/initdb" -D "$PG_DIR/data" -U postgres -A trust >/dev/null
    runuser -u postgres -- "$bindir/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
        -o "-h 127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=on -c max_connections=300" start >/dev/null
    export YIKOU_TEST_PG_URL="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/postgres"
    echo "test: PostgreSQL on 127.0.0.1:$PG_PORT"
}

pg_stop() {
    local bindir
    bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    if [ -n "${PG_DIR:-}" ]; then
        runuser -u postgres -- "$bindir/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true
        rm -rf "$PG_DIR"
    fi
}
