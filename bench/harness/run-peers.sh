#!/usr/bin/env bash
# run-peers.sh - build everything, then measure every peer echo server with
# loadgen and print a table of medians (bench/run.sh's network section runs
# it with cio's servers added; bench/harness/README.md explains the setup).
#
#   ./run-peers.sh                  full run: 5 s runs, 1 s warmup, 3 repeats
#   DUR=1 WARM=0.5 REPS=1 ./run-peers.sh     quick smoke run
#   SCEN="a c" PEERS="raw_epoll go" ./run-peers.sh   a subset
#
# Server pinned to CPU 0 (taskset -c 0), loadgen to CPU 1 (taskset -c 1).
# Order: for each repeat, for each scenario, for each peer -> a fresh server
# process per measurement, so drift hits all peers alike and VmHWM after
# scenario (c) is the peak of that scenario alone.
# Raw loadgen lines go to $OUT/raw.txt, the table to summary.md, the ratios
# to ratios.tsv (for plot.sh).
#
# vCPU placement: on this VM the host moves our two vCPUs between "near"
# (core-to-core cache-line round trip ~60-80 ns) and "far" (~340 ns), and
# loopback TCP figures jump with it (raw_epoll 64 B pingpong ~187k vs ~138k
# req/s).  build/c2c measures that round trip before and after every run; a run
# with either value above FAR_NS is tagged placement=far and retried after a
# pause, up to TRIES attempts.  All attempts are kept in raw.txt;
# summarize.py uses the near ones.
set -u
cd "$(dirname "$0")"
DUR=${DUR:-5}
WARM=${WARM:-1}
REPS=${REPS:-3}
FAR_NS=${FAR_NS:-150}
TRIES=${TRIES:-3}
SCEN=${SCEN:-"a b c d e"}
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=${OUT:-${TMPDIR:-/tmp}/cio-bench-results/$STAMP}

. ./peers.sh
mkdir -p "$OUT"
RAW=$OUT/raw.txt
: > "$RAW"

# Your own servers beside the peers: EXTRA="name=command {P};name2=command {P}" joins scenarios a-d,
# LINE_EXTRA the same for the line scenario (e). {P} is the port; the command must echo until EOF.
IFS=';' read -ra _extra <<< "${EXTRA:-}"
for kv in "${_extra[@]}"; do [ -n "$kv" ] || continue; CMD[${kv%%=*}]=${kv#*=}; ECHO_PEERS="$ECHO_PEERS ${kv%%=*}"; done
IFS=';' read -ra _extra <<< "${LINE_EXTRA:-}"
for kv in "${_extra[@]}"; do [ -n "$kv" ] || continue; CMD[${kv%%=*}]=${kv#*=}; LINE_PEERS="$LINE_PEERS ${kv%%=*}"; done

peers_for() {
  local s=$1 list
  if [ "$s" = e ]; then list=$LINE_PEERS; else list=$ECHO_PEERS; fi
  if [ -n "${PEERS:-}" ]; then
    local p out=""
    for p in $list; do case " $PEERS " in *" $p "*) out="$out $p";; esac; done
    list=$out
  fi
  # Skip peers whose program is not there (not built, not installed).
  local out=""
  for p in $list; do
    local exe=${CMD[$p]%% *}
    if command -v "$exe" >/dev/null 2>&1; then out="$out $p"; else echo "skipping $p: no $exe" >&2; fi
  done
  echo $out
}

SPID=""
cleanup() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null; }
trap cleanup EXIT
trap 'exit 130' INT TERM

stop_server() {
  local pid=$1 i
  kill "$pid" 2>/dev/null
  for i in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  SPID=""
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo -1; }

port=$((30000 + RANDOM % 1000))
{
  echo "# $(date -Is) DUR=$DUR WARM=$WARM REPS=$REPS"
  echo "# kernel $(uname -r); $(nproc) cpus; $(grep -m1 'model name' /proc/cpuinfo)"
} >> "$RAW"

for rep in $(seq 1 "$REPS"); do
  for s in $SCEN; do
    for p in $(peers_for "$s"); do
     for try in $(seq 1 "$TRIES"); do
      port=$((port + 1))
      cmd=${CMD[$p]//\{P\}/$port}
      c2c0=$($BB/c2c | sed 's/c2c_ns=//')
      taskset -c 0 $cmd > "$OUT/server-$p.log" 2>&1 &
      SPID=$!
      if ! $BB/loadgen --port "$port" --probe --duration 10; then
        echo "rep=$rep scen=$s peer=$p FAILED_TO_START" | tee -a "$RAW"
        stop_server "$SPID"; break
      fi
      sleep 0.2
      idle=$(rss_kb "$SPID")
      line=$(taskset -c 1 $BB/loadgen --port "$port" ${ARGS[$s]} \
               --duration "$DUR" --warmup "$WARM" --spid "$SPID" 2>>"$OUT/loadgen.err")
      rc=$?
      stop_server "$SPID"
      c2c1=$($BB/c2c | sed 's/c2c_ns=//')
      place=near
      [ "${c2c0%.*}" -gt "$FAR_NS" ] 2>/dev/null && place=far
      [ "${c2c1%.*}" -gt "$FAR_NS" ] 2>/dev/null && place=far
      [ -z "$line" ] && line="FAILED rc=$rc"
      echo "rep=$rep scen=$s peer=$p try=$try placement=$place c2c_before=$c2c0 c2c_after=$c2c1 idle_rss_kb=$idle $line" | tee -a "$RAW"
      [ "$place" = near ] && break
      [ "$try" -lt "$TRIES" ] && sleep 5
     done
    done
  done
done

$PY summarize.py "$RAW" --ratios "$OUT/ratios.tsv" | tee "$OUT/summary.md"
echo "raw results: $RAW"
