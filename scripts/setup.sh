#!/usr/bin/env bash
# Everything `make test` needs: first what running needs (scripts/setup-run.sh, `make run`'s
# own setup) with the console and the gateway built in one cargo call, then the test tools:
#   1. Debian packages only the tests use (a D-Bus session and a keyring, Xvfb, WebDriver);
#   2. private Python venvs in .cache/: the `onnx` wheel (fixture generator) and `onnxruntime`
#      (Python baseline); model_signing; Model Explorer (tritonclient comes first, in step 0);
#   3. the fixtures (scripts/make_fixtures.py) and the third-party models from their wheels;
#   4. tauri-driver for the console's end-to-end tests.
#
# Packages come from the user's own package tooling (apt, pip), which already knows the
# index, proxy and certificates (npm too). Nothing here names a registry host.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$root"
mkdir -p "$cache"

SILERO_VERSION=6.2.3
MAGIKA_VERSION=1.0.3

# --- 0. The gateway's gRPC protocol, then what running needs, with the console and the
# gateway. Triton's client (tritonclient[http,grpc]) drives the gateway in the tests, and its
# wheel also holds the protocol's descriptors, which the gateway's build generates its gRPC
# server from (scripts/grpc_descriptors.py), so it comes before the build.
ensure_apt python3 python3-venv python3-pip
ensure_venv "$cache/venv-triton" "tritonclient[http,grpc]==2.50.0 numpy"
fds="$cache/grpc/inference.fds"
if [ ! -f "$fds" ] || [ scripts/grpc_descriptors.py -nt "$fds" ]; then
  mkdir -p "$(dirname "$fds")"
  "$cache/venv-triton/bin/python" scripts/grpc_descriptors.py "$fds" >/dev/null
  say "took the gRPC inference protocol's descriptors from the tritonclient wheel"
fi
ASSAY_WITH_CONSOLE=1 ASSAY_BUILD_ALSO=assay-gateway bash "$root/scripts/setup-run.sh"

# --- 1. Debian packages ------------------------------------------------------------
# python3-venv for the test venvs; openssl, dbus and gnome-keyring for the signing and
# keychain tests; Xvfb, WebKitWebDriver and ImageMagick for the console's end-to-end tests in
# the real webview (docs: ../shared/specs/tauri-on-debian.md).
ensure_apt python3 python3-venv python3-pip unzip openssl dbus gnome-keyring
ensure_apt --no-install-recommends xvfb xauth webkit2gtk-driver imagemagick
# The native viewer: its window libraries, and Mesa's software Vulkan (lavapipe), on which
# its interaction tests render (docs: ../shared/specs/egui-on-debian.md).
ensure_apt --no-install-recommends libx11-6 libx11-xcb1 libxcursor1 libxi6 libxkbcommon-x11-0 libvulkan1 mesa-vulkan-drivers
# A real OCI registry (the CNCF distribution server) for the release-distribution tests, and
# htpasswd for its bcrypt password file.
ensure_apt --no-install-recommends docker-registry apache2-utils

# --- 2. Python venv ------------------------------------------------------------------
venv="$cache/venv"
# onnxconverter-common makes the FP16 fixture; polygraphy is what `assay accuracy` is
# checked against (crates/assay-cli/tests/accuracy.rs) and benchmarked next to.
ensure_venv "$venv" "numpy onnx==$ONNX_VERSION onnxruntime==$ORT_VERSION onnxconverter-common==1.16.0 polygraphy==0.53.6"

# The signing interop tools, in a venv of their own: model_signing verifies Assay's bundles
# and signs bundles for Assay to verify (pyOpenSSL is a dependency it forgets to declare).
ensure_venv "$cache/venv-signing" "model-signing==1.1.1 pyOpenSSL"

# ORAS's Python SDK: a third-party client that lists and pulls what `assay push oci://`
# writes and follows its signature referrer (crates/assay-gateway/tests/process/registry.rs).
ensure_venv "$cache/venv-oras" "oras==0.2.43"

# The Kubernetes schema, offline: deploy/kubernetes/ is validated with kubernetes-validate
# (crates/assay-gateway/tests/process/kubernetes.rs), because no cluster runs here.
ensure_venv "$cache/venv-k8s" "kubernetes-validate==1.34.1"

# Google's Model Explorer, whose own node data types (checked strictly with dacite, its
# dependency) read the viewer's exports, and whose builder writes the files it imports.
ensure_venv "$cache/venv-explorer" "ai-edge-model-explorer==0.1.34"

# (Triton's own HTTP and gRPC client, .cache/venv-triton, was made in step 0: the tests use
# it to check that the gateway is a drop-in Open Inference Protocol server.)

# Triton's perf_analyzer and the FastAPI + onnxruntime baseline server: `assay load`'s
# throughput is checked against perf_analyzer's on the gateway and on the baseline
# (crates/assay-gateway/tests/process/load.rs); `make bench-gateway` uses both too.
bash "$root/scripts/setup-bench-gateway.sh"

# --- 3. Fixtures and third-party models ----------------------------------------------
fixtures="$cache/fixtures"
if [ ! -f "$fixtures/.stamp" ] || [ scripts/make_fixtures.py -nt "$fixtures/.stamp" ]; then
  say "generating fixtures into $fixtures"
  "$venv/bin/python" scripts/make_fixtures.py --out "$fixtures"
  touch "$fixtures/.stamp"
fi

models="$cache/models"
fetch_wheel_models() { # name version pattern...
  local name=$1 version=$2; shift 2
  local dest="$models/$name-$version"
  [ -f "$dest/.stamp" ] && return 0
  say "fetching $name==$version from the package index"
  local tmp
  tmp=$(mktemp -d)
  python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$tmp" "$name==$version"
  mkdir -p "$dest"
  unzip -q -o -j "$tmp"/*.whl "$@" -d "$dest"
  rm -rf "$tmp"
  touch "$dest/.stamp"
}
fetch_wheel_models silero-vad "$SILERO_VERSION" 'silero_vad/data/*.onnx'
fetch_wheel_models magika "$MAGIKA_VERSION" 'magika/models/standard_v3_3/model.onnx'
# The conformance suite's real models (tests/conformance/models.json): a YOLOv8 detector with
# symbolic batch/height/width and an `imgsz` entry, PaddleOCR's detector, recognizer and
# classifier (converter-named `p2o.DynamicDimension.N`, unnamed and -1 dimensions), and an
# OCR model with a symbolic `image_width`.
fetch_wheel_models nudenet 3.4.2 'nudenet/320n.onnx'
fetch_wheel_models rapidocr-onnxruntime 1.4.4 'rapidocr_onnxruntime/models/*.onnx'
fetch_wheel_models ddddocr 1.6.1 'ddddocr/common_old.onnx'
# A scikit-learn classifier converted by skl2onnx (a ZipMap: sequence<map> output), made
# from a seeded toy problem in a venv of its own.
skl="$models/skl2onnx-1.20.0/logreg_zipmap.onnx"
if [ ! -f "$skl" ] || [ scripts/make_sklearn_model.py -nt "$skl" ]; then
  ensure_venv "$cache/venv-skl" "numpy scikit-learn==1.7.2 skl2onnx==1.20.0 onnx==$ONNX_VERSION"
  mkdir -p "$(dirname "$skl")"
  "$cache/venv-skl/bin/python" scripts/make_sklearn_model.py "$skl"
  say "converted a scikit-learn classifier with skl2onnx into $skl"
fi

# The ONNX Runtime wheel itself, for the install tests (local index, --from-wheel).
if ! ls "$cache/wheels"/onnxruntime-"$ORT_VERSION"-*.whl >/dev/null 2>&1; then
  say "keeping a copy of the onnxruntime $ORT_VERSION wheel for the install tests"
  python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$cache/wheels" "onnxruntime==$ORT_VERSION"
fi

# --- 4. The WebDriver bridge for the console's end-to-end tests ---------------------
if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  say "installing tauri-driver (WebDriver for Tauri apps)"
  cargo install -q tauri-driver --locked --version '^2'
fi
