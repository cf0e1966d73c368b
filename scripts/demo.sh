#!/bin/sh
# make demo: the early-time experiment of Hu et al. 2020 (docs/theory.md §7.5)
# at the quick size (about a minute on 2 cores), then the report's path and
# its verdict line. Running it again replaces the earlier report.
#   sh scripts/demo.sh [path/to/ntkit]
set -u
NTKIT_BIN=${1:-build/ntkit}
OUT=runs/early-linear-quick
"$NTKIT_BIN" experiment early-linear --quick --out "$OUT" || exit $?
echo
echo "claim of $(sed -n '1s/^# Claim (\([^)]*\)).*/\1/p' "$OUT/report.md")"
echo "report:  $OUT/report.md"
echo "figures: $OUT/*.png (and .svg)"
grep -m 1 '^\*\*Verdict' "$OUT/report.md"
