#!/usr/bin/env bash
# Fails if any file under src/ or include/ has more than MAX lines (default
# 800, DESIGN.md "one concept per file, under ~800 lines").  Prints offenders.
# usage: tools/check_line_budget.sh [MAX]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

max=${1:-800}
bad=0
while IFS= read -r -d '' f; do
    n=$(wc -l <"$f")
    if [ "$n" -gt "$max" ]; then
        echo "line budget: $f has $n lines (max $max)"
        bad=1
    fi
done < <(find src include -type f -print0 2>/dev/null | sort -z)

if [ "$bad" -ne 0 ]; then
    echo "line budget exceeded: split the files above (one concept per file)" >&2
    exit 1
fi
