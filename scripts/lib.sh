# Shared by the setup scripts (sourced, not run).

# The repository root, its private cache, and the versions every setup installs.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache="$root/.cache"
ORT_VERSION=${ORT_VERSION:-1.31.1}
ONNX_VERSION=${ONNX_VERSION:-1.23.2}

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

# ensure_venv DIR "REQUIREMENTS": a venv holding exactly these pip requirements; rebuilt only
# when the list changes, so a second run costs nothing.
ensure_venv() {
  local dir=$1 reqs=$2
  if [ ! -x "$dir/bin/python" ] || [ "$(cat "$dir/.assay-requirements" 2>/dev/null)" != "$reqs" ]; then
    say "creating the venv $(basename "$dir") ($reqs)"
    python3 -m venv "$dir"
    # shellcheck disable=SC2086 # the list is split into requirements on purpose
    "$dir/bin/python" -m pip install -q --disable-pip-version-check $reqs
    echo "$reqs" >"$dir/.assay-requirements"
  fi
}

# ensure_apt [--no-install-recommends] PACKAGE...: installs the Debian packages that are
# missing (as root), or says which are and how to get them.
ensure_apt() {
  local opts=()
  if [ "${1:-}" = "--no-install-recommends" ]; then
    opts+=("$1")
    shift
  fi
  local missing=() p
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    say "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
    exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${opts[@]}" "${missing[@]}" >/dev/null
}
