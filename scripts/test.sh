#!/usr/bin/env bash
# Install everything, check lint and format, then run the whole test suite (unit, AppTest and the real browser).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest "$@"
