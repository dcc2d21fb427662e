#!/usr/bin/env bash
# What `make run` needs, and nothing more (the test tools are scripts/setup.sh's part):
#   1. the Debian packages that building and running need;
#   2. the ONNX schema, taken out of the `onnx` wheel for prost-build (no venv);
#   3. with a display: WebKitGTK, the console's npm packages and its front end;
#   4. the `assay` CLI (the console's worker) and, with a display, the console;
#   5. the ONNX Runtime, through `assay runtime install` (the product's own path).
# Without a display there is no window to open, so the console is not built at all and
# `make run` goes straight to the same job through the CLI.
#
# Idempotent: it installs only what is missing, so a second run takes seconds.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$root"
mkdir -p "$cache"

# The console is built when there is a display to show it, or when asked (`make test`).
with_console=${ASSAY_WITH_CONSOLE:-}
if [ -z "$with_console" ]; then
  if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then with_console=1; else with_console=0; fi
fi

# --- 1. Debian packages ------------------------------------------------------------
# fonts-dejavu-core: the text of the charts `assay` draws (plotters needs a system font).
ensure_apt build-essential pkg-config python3 python3-pip unzip ca-certificates fonts-dejavu-core

if ! command -v cargo >/dev/null 2>&1; then
  say "cargo was not found. Install the Rust toolchain with rustup (Rust 1.92 or newer), then re-run."
  exit 1
fi

# --- 2. ONNX schema for prost-build --------------------------------------------------
# Only one file of the wheel is needed, so the wheel is downloaded and that file unzipped.
schema="$cache/onnx-schema/onnx-ml.proto"
if [ ! -f "$schema" ]; then
  tmp=$(mktemp -d)
  say "taking the ONNX schema from the onnx $ONNX_VERSION wheel"
  python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$tmp" "onnx==$ONNX_VERSION"
  mkdir -p "$(dirname "$schema")"
  unzip -q -o -j "$tmp"/onnx-*.whl 'onnx/onnx-ml.proto' -d "$(dirname "$schema")"
  rm -rf "$tmp"
fi

# --- 3. The console's webview and front end ------------------------------------------
if [ "$with_console" = 1 ]; then
  # WebKitGTK for Tauri (docs: ../shared/specs/tauri-on-debian.md).
  ensure_apt --no-install-recommends libwebkit2gtk-4.1-dev
  if ! command -v npm >/dev/null 2>&1; then
    say "npm was not found. Install Node.js 20 or newer (Debian: apt-get install nodejs npm), then re-run."
    exit 1
  fi
  if [ ! -f ui/node_modules/.package-lock.json ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
    say "installing the console's front-end packages (npm ci)"
    npm --prefix ui ci --no-audit --no-fund --loglevel=error
  fi
  # The Tauri build embeds ui/dist, so it is built first.
  say "building the console's front end"
  npm --prefix ui run --silent build >/dev/null
fi

# --- 4. The binaries -----------------------------------------------------------------
# ASSAY_BUILD_ALSO: more packages built in the same cargo call (`make test` adds the gateway),
# so that one build unifies their features instead of building shared crates twice.
packages=(-p assay-cli)
[ "$with_console" = 1 ] && packages+=(-p assay-console)
for p in ${ASSAY_BUILD_ALSO:-}; do packages+=(-p "$p"); done
names="${packages[*]}"
say "building ${names//-p /}"
cargo build -q "${packages[@]}"

# --- 5. ONNX Runtime, installed by Assay itself --------------------------------------
"$root/target/debug/assay" runtime install --version "$ORT_VERSION"
