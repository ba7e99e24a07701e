#!/usr/bin/env bash
# Byte-for-byte comparison of two flashsim builds on every bundled run scenario: the gate for a
# refactor ("a refactor moves no number"). Usage, from the checkout:
#   scripts/compare-outputs.sh OLD_FLASHSIM NEW_FLASHSIM
# e.g. build the starting commit in a worktree, then compare its binary with target/release's.
# Compares summary.json, timeline.csv, server-timeline.csv and table.txt; exits 1 on any
# difference (perf.json holds wall-clock figures and is not compared).
set -euo pipefail
old=$1
new=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mapfile -t scenarios < <(find scenarios -name '*.toml' ! -name 'plan-*' ! -name 'sweep-*' | sort)
differ=0
for scenario in "${scenarios[@]}"; do
  name=$(echo "${scenario#scenarios/}" | sed 's#/#_#g; s#\.toml$##')
  for side in old new; do
    bin=$old
    [ "$side" = new ] && bin=$new
    "$bin" run "$scenario" --no-report --out "$work/$side/$name" > /dev/null 2> "$work/err" || {
      cat "$work/err" >&2
      echo "the $side build failed on $scenario" >&2
      exit 2
    }
  done
  for file in summary.json timeline.csv server-timeline.csv table.txt; do
    if [ -e "$work/old/$name/$file" ] || [ -e "$work/new/$name/$file" ]; then
      if ! cmp -s "$work/old/$name/$file" "$work/new/$name/$file"; then
        echo "differs: $name/$file"
        differ=1
      fi
    fi
  done
done
if [ "$differ" = 0 ]; then
  echo "identical: ${#scenarios[@]} scenarios (summary.json, timeline.csv, server-timeline.csv, table.txt)"
fi
exit "$differ"
