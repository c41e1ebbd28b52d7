#!/usr/bin/env bash
# Create .venv and install the project with everything the app, the evaluation and the tests need.
# torch is pinned to the CPU build (2.13.0) in pyproject.toml, so no CUDA packages are pulled.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[app,eval,test]"
echo "set up: $(.venv/bin/python -c 'import qa, sys; print(sys.prefix)')"
