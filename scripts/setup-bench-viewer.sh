#!/usr/bin/env bash
# What the viewer benchmark's side-by-side run needs beyond scripts/setup.sh (run by
# `make bench-viewer`): Debian's Chromium and its driver (headless, to load Model Explorer
# like a user's browser), and a venv with Google's Model Explorer, its ONNX adapter and
# Selenium.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache="$root/.cache"
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

ensure_apt chromium chromium-driver
ensure_venv "$cache/venv-explorer-bench" "ai-edge-model-explorer==0.1.34 model-explorer-onnx==0.4.2 selenium==4.* pillow"
