#!/bin/sh
# make demo: seed 000's early-time experiment at the quick size (about a
# minute on 2 cores), then the report's path and its verdict line.
#   sh scripts/demo.sh [path/to/ntkit]
set -u
NTKIT_BIN=${1:-build/ntkit}
OUT=runs/early-linear-quick
"$NTKIT_BIN" experiment early-linear --quick --out "$OUT" || exit $?
echo
echo "report:  $OUT/report.md"
echo "figures: $OUT/*.png (and .svg)"
grep -m 1 '^\*\*Verdict' "$OUT/report.md"
