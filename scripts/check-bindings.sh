#!/usr/bin/env bash
# The console's TypeScript types (ui/src/bindings/) are generated from the Rust types by
# ts-rs when `cargo test` runs. This fails when what the tests just generated differs from
# what is committed, so a type changed in Rust cannot ship with a stale front end.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "check-bindings: not a git checkout; nothing to compare against" >&2
  exit 0
fi
changed=$(git status --porcelain -- ui/src/bindings)
if [ -n "$changed" ]; then
  echo "ui/src/bindings is stale: \`cargo test\` generated different TypeScript types:" >&2
  echo "$changed" >&2
  git --no-pager diff --stat -- ui/src/bindings >&2
  echo "Commit the regenerated files (they come from the #[derive(TS)] Rust types)." >&2
  exit 1
fi
echo "ui/src/bindings matches the Rust types"
