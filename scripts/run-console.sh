#!/usr/bin/env bash
# `make run`: launch the console; on a machine without a display, say so and run the same
# job headless with the CLI (benchmark the bundled sample model).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" ]]; then
  echo "assay: no display here (DISPLAY and WAYLAND_DISPLAY are unset), so the console cannot open a window."
  echo "assay: the same job, headless:  target/debug/assay bench assets/sample-mlp.onnx"
  echo
  exec target/debug/assay bench assets/sample-mlp.onnx
fi
exec target/debug/assay-console "$@"
