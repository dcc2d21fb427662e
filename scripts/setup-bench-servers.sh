#!/usr/bin/env bash
# What `make bench-servers` needs beyond scripts/setup.sh: the inference servers people would
# otherwise run, each in a venv of its own with the same onnxruntime as the gateway:
#   - Triton: the real `tritonserver` that ships in PyPI's nvidia-pytriton wheel (its Python
#     backend calls onnxruntime);
#   - Seldon MLServer, with a custom runtime around onnxruntime;
#   - the KServe Python model server, with a model around onnxruntime.
# (The FastAPI baseline's venv comes from scripts/setup-bench-gateway.sh.)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache="$root/.cache"
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

# Triton's Python backend stub links the system's libpython (Debian's 3.11), so its venv
# must be made from the same interpreter: another 3.11's standard library does not match it.
pt="$cache/venv-pytriton" pt_reqs="nvidia-pytriton==0.7.0 onnxruntime==1.31.1 numpy"
if [ ! -x "$pt/bin/python" ] || [ "$(cat "$pt/.assay-requirements" 2>/dev/null)" != "$pt_reqs" ]; then
  say "creating the venv venv-pytriton ($pt_reqs) from /usr/bin/python3"
  rm -rf "$pt"
  /usr/bin/python3 -m venv "$pt"
  # shellcheck disable=SC2086 # the list is split into requirements on purpose
  "$pt/bin/python" -m pip install -q --disable-pip-version-check $pt_reqs
  echo "$pt_reqs" >"$pt/.assay-requirements"
fi
ensure_venv "$cache/venv-mlserver" "mlserver onnxruntime==1.31.1 numpy"
ensure_venv "$cache/venv-kserve" "kserve onnxruntime==1.31.1 numpy"
say "ready: Triton (pytriton), MLServer and KServe venvs"
