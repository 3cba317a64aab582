#!/usr/bin/env bash
# Runs gojira's cargo-fuzz targets (fuzz/) under libFuzzer, one after the
# other, each for N executions or T seconds. The target bodies live in
# tests/fuzz-targets (proptest runs them briefly under `cargo test`).
#
#   scripts/fuzz.sh                          every target, 100000 runs each
#   scripts/fuzz.sh --runs 1000000 tool_args one target, a million runs
#   scripts/fuzz.sh --time 3600              every target, an hour each
#   scripts/fuzz.sh --reproduce tool_args fuzz/artifacts/tool_args/crash-…
#
# Targets: mcp_jsonrpc tool_args tools_yaml spec_loading. New inputs that
# reach new code go to fuzz/corpus/<target>/ (git-ignored; keep it between
# runs to start where the last run stopped); the committed seeds are in
# fuzz/seeds/<target>/. A crash stops its target, leaves the input in
# fuzz/artifacts/<target>/ and makes this script exit 1 after the others ran.
set -euo pipefail
cd "$(dirname "$0")/.."

all=(mcp_jsonrpc tool_args tools_yaml spec_loading)
runs=100000
seconds=
reproduce=
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --time) seconds=$2; shift 2 ;;
    --reproduce) reproduce=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

if ! command -v cargo-fuzz >/dev/null; then
  echo "installing cargo-fuzz from crates.io"
  cargo install cargo-fuzz --locked
fi
# cargo-fuzz passes nightly-only flags (sanitizer coverage); the pinned
# stable toolchain accepts them with RUSTC_BOOTSTRAP=1.
export RUSTC_BOOTSTRAP=1
# No sanitizer: the code is safe Rust (unsafe is forbidden workspace-wide),
# so AddressSanitizer would only slow every execution. Debug assertions and
# overflow checks stay on (cargo-fuzz's default), as in `cargo test`.
fuzz=(cargo fuzz run --fuzz-dir fuzz --sanitizer none)

if [ -n "$reproduce" ]; then
  [ ${#targets[@]} -eq 2 ] || { echo "usage: $0 --reproduce <target> <input file>" >&2; exit 2; }
  exec "${fuzz[@]}" "${targets[0]}" "${targets[1]}"
fi

limit=(-runs="$runs")
[ -z "$seconds" ] || limit=(-max_total_time="$seconds")
failed=()
for target in "${targets[@]}"; do
  printf '\n== %s (%s) ==\n' "$target" "${limit[*]}"
  mkdir -p "fuzz/corpus/$target"
  start=$(date +%s)
  if nice -n 10 "${fuzz[@]}" "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
      "${limit[@]}" -print_final_stats=1; then
    echo "$target: no crash in $(( $(date +%s) - start )) s"
  else
    echo "$target: CRASHED (input in fuzz/artifacts/$target/)"
    failed+=("$target")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "crashed: ${failed[*]}"
  exit 1
fi
