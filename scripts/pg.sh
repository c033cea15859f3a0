# Throwaway PostgreSQL cluster on 127.0.0.1 for the tests; sourced by scripts/test.sh.
# PostgreSQL refuses to run as root, so the cluster belongs to the 'postgres' user that
# Debian's package creates. The cluster is UTF-8 whatever the caller's locale: a bare server or
# container has no LANG, and initdb would then make it SQL_ASCII (which psycopg reads as bytes).
pg_start() {
    local bindir
    bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    PG_DIR=$(mktemp -d /tmp/yikou-pg.XXXXXX)
    chown postgres: "$PG_DIR"
    PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    # C.UTF-8 is built into glibc (Debian 12 has it without the locales package); else no locale.
    local locale=(--no-locale)
    if locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then
        locale=(--locale=C.UTF-8)
    fi
    runuser -u postgres -- "$bindir/initdb" -D "$PG_DIR/data" -U postgres -A trust \
        -E UTF8 "${locale[@]}" >/dev/null
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
