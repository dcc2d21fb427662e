#!/usr/bin/env bash
# What the gateway benchmark needs beyond scripts/setup.sh (run by `make bench-gateway`):
#   - Triton's perf_analyzer, taken from the tritonclient 2.50.0 manylinux wheel, with
#     Debian's libb64 and libcudart.so.12 from the nvidia-cuda-runtime-cu12 wheel (it links
#     against it; no GPU is needed);
#   - the FastAPI + onnxruntime baseline server's venv.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache="$root/.cache"
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

ensure_apt libb64-0d  # perf_analyzer links against it

pa="$cache/perf_analyzer"
if [ ! -x "$pa/bin/perf_analyzer" ] || [ ! -f "$pa/lib/libcudart.so.12" ]; then
  say "fetching perf_analyzer (tritonclient 2.50.0 wheel) and libcudart.so.12"
  tmp=$(mktemp -d)
  python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --platform manylinux1_x86_64 --python-version 3.11 -d "$tmp" tritonclient==2.50.0
  python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --platform manylinux2014_x86_64 --python-version 3.11 -d "$tmp" "nvidia-cuda-runtime-cu12==12.*"
  mkdir -p "$pa/bin" "$pa/lib"
  unzip -q -o -j "$tmp"/tritonclient-*.whl 'tritonclient-2.50.0.data/data/bin/perf_analyzer' -d "$pa/bin"
  unzip -q -o -j "$tmp"/nvidia_cuda_runtime_cu12-*.whl 'nvidia/cuda_runtime/lib/libcudart.so.12' -d "$pa/lib"
  chmod +x "$pa/bin/perf_analyzer"
  rm -rf "$tmp"
fi

ensure_venv "$cache/venv-baseline" "fastapi uvicorn onnxruntime==1.31.1 numpy"
say "ready: $pa/bin/perf_analyzer"
