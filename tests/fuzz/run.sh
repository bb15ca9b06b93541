#!/usr/bin/env bash
# Runs one libFuzzer harness for $FUZZ_TIME seconds (default 30):
#   run.sh <harness> <seed corpus dir> <work corpus dir>
# New inputs go to the work directory (in the build tree); the seeds in the
# repository are only read.  Fails on any finding (crash, leak, timeout,
# sanitizer report); the input that caused it is left in the work directory's
# parent as crash-*/leak-*/timeout-*, and the last lines of the log say
# which.  Prints the executions reached.
set -euo pipefail
harness=$1 seeds=$2 work=$3
time=${FUZZ_TIME:-30}
mkdir -p "$work"
cd "$(dirname "$work")"
log=$(basename "$work").log
rc=0
"$harness" -max_total_time="$time" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "$work" "$seeds" >"$log" 2>&1 || rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
echo "$(basename "$harness"): ${execs:-?} executions in ${time} s, exit $rc"
if [ $rc -ne 0 ]; then
    tail -n 60 "$log"
    exit 1
fi
