#!/usr/bin/env bash
# Set everything up, start a throwaway PostgreSQL on 127.0.0.1, lint, run the whole test suite.
# Extra arguments go to pytest (for example: scripts/test.sh tests/queue_server -k engine).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# shellcheck source=scripts/pg.sh
source scripts/pg.sh
pg_start
trap pg_stop EXIT

echo "test: ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

echo "test: import contracts (docs/architecture.md)"
.venv/bin/lint-imports

echo "test: pytest"
set +e
# Two workers (pytest-xdist), a test file to a worker: module fixtures (a display, a fuzzed
# server) start once, and every test has its own server, port, database and directory.
# YIKOU_TEST_WORKERS=0 runs in one process.
.venv/bin/python -m pytest -n "${YIKOU_TEST_WORKERS:-2}" --dist loadfile "$@"
rc=$?
set -e
# pytest exits 5 when it collected no test: that must fail the run, and it does (5 != 0).
exit $rc
