# Shared by the setup scripts (sourced, not run).

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
