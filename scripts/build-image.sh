#!/usr/bin/env bash
# Builds the gateway's container image from deploy/Dockerfile with podman, then runs it as a
# Kubernetes node would and checks it serves: `make image`.
#
#   scripts/build-image.sh [TAG]        (default: localhost/assay/assay-gateway:<version>)
#
# The Dockerfile's bases are Docker Hub's `rust:<v>-bookworm` and `debian:bookworm-slim`.
# Where Docker Hub cannot be reached (a build host that sees only package mirrors), set
# ASSAY_IMAGE_LOCAL_BASES=1: the two bases are made here from Debian's own archive with
# mmdebstrap (and rustup for the toolchain) under the same names, so the Dockerfile is built
# exactly as written.
#
# The podman settings (runc, cgroupfs, modest ulimits) suit hosts without CAP_SYS_RESOURCE
# or a unified cgroup tree (a VM sandbox); they change nothing in the image.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$root"

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
tag=${1:-localhost/assay/assay-gateway:$version}
rust_version=$(sed -n 's/^ARG RUST_VERSION=//p' deploy/Dockerfile)
ort_version=$(sed -n 's/^ARG ORT_VERSION=//p' deploy/Dockerfile)

ensure_apt --no-install-recommends podman runc curl
if [ "${ASSAY_IMAGE_LOCAL_BASES:-0}" = 1 ]; then
  ensure_apt --no-install-recommends mmdebstrap
fi

conf=$(mktemp)
work=$(mktemp -d)
cleanup() {
  podman rm -f assay-image-smoke >/dev/null 2>&1 || true
  rm -rf "$conf" "$work"
}
trap cleanup EXIT
cat >"$conf" <<'EOF'
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
EOF
export CONTAINERS_CONF=$conf
pm() { podman "$@"; }
die() {
  say "$*"
  exit 1
}

# --- 1. The bases ----------------------------------------------------------------------
slim=docker.io/library/debian:bookworm-slim
rust=docker.io/library/rust:$rust_version-bookworm
pull=always
if [ "${ASSAY_IMAGE_LOCAL_BASES:-0}" = 1 ]; then
  pull=never
  if ! pm image exists "$slim"; then
    mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$work/slim.tar"
    pm import --quiet "$work/slim.tar" "$slim" >/dev/null
    say "made $slim from Debian's archive (mmdebstrap, minbase)"
  fi
  if ! pm image exists "$rust"; then
    # What the build stage uses of the official image: a C toolchain, curl, rustup's cargo.
    # A build host behind a TLS-inspecting proxy has its own CAs in
    # /usr/local/share/ca-certificates; the build stage (only) trusts them too, so cargo, pip
    # and the runtime download work there as they do here. The final image never has them.
    mkdir -p "$work/ca"
    cp /usr/local/share/ca-certificates/*.crt "$work/ca/" 2>/dev/null || true
    arch=$(uname -m)-unknown-linux-gnu
    printf '%s\n' \
      "FROM $slim" \
      "COPY ca/ /usr/local/share/ca-certificates/" \
      "RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl gcc libc6-dev make pkg-config && update-ca-certificates && rm -rf /var/lib/apt/lists/*" \
      "ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:\$PATH SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt PIP_CERT=/etc/ssl/certs/ca-certificates.crt" \
      "RUN curl -sSfo /tmp/rustup-init https://static.rust-lang.org/rustup/dist/$arch/rustup-init && chmod +x /tmp/rustup-init && /tmp/rustup-init -y --no-modify-path --profile minimal --default-toolchain $rust_version && rm /tmp/rustup-init && cargo --version" \
      >"$work/Containerfile.rust"
    pm build --quiet --pull=never --network host -t "$rust" -f "$work/Containerfile.rust" "$work" >/dev/null
    say "made $rust (Debian bookworm and rustup's $rust_version toolchain)"
  fi
fi

# --- 2. The image, from deploy/Dockerfile as written --------------------------------------
started=$(date +%s)
pm build --pull="$pull" --network host -f deploy/Dockerfile -t "$tag" .
say "built $tag in $(($(date +%s) - started)) s; $(pm image inspect "$tag" --format '{{.Size}}' | awk '{printf "%.0f MiB", $1/1048576}')"

# --- 3. Run it as the Deployment does, and check it serves ------------------------------
# The container gets what the Kubernetes manifests give it (a config file, trusted keys and
# an admin token, read-only; a writable data volume) and must find its runtime through
# ASSAY_ORT_DYLIB. The host's `assay` then signs the sample model and pushes it, and the
# containerised gateway verifies, loads and serves it.
[ -x target/debug/assay ] || cargo build -q -p assay-cli
assay=$root/target/debug/assay
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export XDG_DATA_HOME=$work/home ASSAY_KEY_PASSPHRASE=image-smoke-passphrase
mkdir -p "$work/etc/trusted" "$work/data"
openssl rand -hex 32 >"$work/etc/token"
"$assay" key generate image-smoke >/dev/null
"$assay" key export-public image-smoke --out "$work/etc/trusted/image-smoke.pem" >/dev/null
"$assay" release create assets/sample-mlp.onnx --name sample --version 1.0.0 --out "$work/rel" >/dev/null
"$assay" sign "$work/rel" --key image-smoke --signature "$work/rel.sig" >/dev/null
printf 'listen = "0.0.0.0:%s"\ndata = "/var/lib/assay-gateway"\ntrusted_keys = "/etc/assay/trusted"\ntoken_file = "/etc/assay/token"\n' \
  "$port" >"$work/etc/gateway.toml"
chmod -R a+rX "$work/etc"
chown 10001 "$work/data"
pm run -d --name assay-image-smoke --network host --read-only \
  -v "$work/etc:/etc/assay:ro" -v "$work/data:/var/lib/assay-gateway" "$tag" >/dev/null
base=http://127.0.0.1:$port
for _ in $(seq 1 60); do
  curl -fsS "$base/v2/health/live" >/dev/null 2>&1 && break
  sleep 1
done
if ! curl -fsS "$base/v2/health/live" >/dev/null; then
  pm logs assay-image-smoke | tail -20
  die "the image's gateway never came up"
fi
"$assay" push "$work/rel" --signature "$work/rel.sig" --gateway "$base" --token-file "$work/etc/token"
curl -fsS "$base/v2/health/ready" >/dev/null || die "the gateway is not ready after the push"
body='{"inputs":[{"name":"input","shape":[2,64],"datatype":"FP32","data":['$(python3 -c 'print(",".join(["0.5"]*128))')']}]}'
out=$(curl -fsS -H 'Content-Type: application/json' -d "$body" "$base/v2/models/sample/infer")
python3 -c '
import json, sys
r = json.loads(sys.argv[1])
o = r["outputs"][0]
assert r["model_version"] == "1.0.0", r
assert o["shape"] == [2, 10] and len(o["data"]) == 20, o
print("inferred:", o["name"], o["shape"], "first row", [round(x, 4) for x in o["data"][:3]])
' "$out"
user=$(pm exec assay-image-smoke id -u)
[ "$user" = 10001 ] || die "the gateway runs as uid $user, not 10001"
say "the image serves: live, a signed release pushed, verified and loaded, ready, inferred; uid $user; ONNX Runtime $ort_version from its wheel"
