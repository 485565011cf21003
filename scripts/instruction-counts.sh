#!/usr/bin/env bash
# Instructions per review, counted by callgrind (deterministic where wall-clock time on a shared
# machine is not): see docs/benchmarks.md, "Instruction counts".
#
#   cargo bench --bench instructions --no-run
#   scripts/instruction-counts.sh target/release/deps/instructions-<hash> [modes]
#
# For each mode (default: warm digest cold webhook) the binary runs twice under callgrind, with
# N1 and N2 reviews; (instructions(N2) - instructions(N1)) / (N2 - N1) is the cost of one review,
# setup excluded. The registries run natively in a separate process. Profiles of the N2 runs
# are left in $OUT (default /tmp/instruction-counts) for callgrind_annotate.
set -euo pipefail

bin=${1:?usage: $0 INSTRUCTIONS_BINARY [modes]}
modes=${2:-warm digest cold webhook}
out=${OUT:-/tmp/instruction-counts}
mkdir -p "$out"
state=$(mktemp -d)
"$bin" serve "$state" 2>"$out/serve.log" &
serve=$!
trap 'kill $serve 2>/dev/null || true; rm -rf "$state"' EXIT
until [[ -e $state/ready ]]; do
  kill -0 $serve 2>/dev/null || { cat "$out/serve.log"; exit 1; }
  sleep 0.5
done

count() { # mode n -> total instructions
  local file=$out/callgrind.$1.$2
  valgrind --tool=callgrind --callgrind-out-file="$file" "$bin" "$1" "$state" "$2" \
    2>"$file.log" >/dev/null || { tail -20 "$file.log" >&2; exit 1; }
  grep '^summary:' "$file" | awk '{print $2}'
}

printf '| mode | N1 | N2 | instructions per review |\n|---|---|---|---|\n'
for mode in $modes; do
  case $mode in
    warm) n1=100 n2=600 ;;
    webhook) n1=50 n2=250 ;;
    digest) n1=20 n2=70 ;;
    cold) n1=5 n2=25 ;;
  esac
  a=$(count "$mode" $n1)
  b=$(count "$mode" $n2)
  printf '| %s | %d | %d | %d |\n' "$mode" $n1 $n2 $(((b - a) / (n2 - n1)))
done
