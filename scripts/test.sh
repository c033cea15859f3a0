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

echo "test: pytest"
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
# pytest exits 5 when it collected no test: that must fail the run, and it does (5 != 0).
exit $rc
