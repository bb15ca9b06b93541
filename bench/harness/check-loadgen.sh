#!/usr/bin/env bash
# check-loadgen.sh - is loadgen the bottleneck?  Sweeps loadgen's connection
# count and pipelining depth against one server (default raw_epoll) and
# prints rps with both processes' CPU use.  If the server figure is a server
# limit, it stays flat as loadgen's parameters change and the server sits at
# ~100% CPU while loadgen has idle time.
#
#   ./check-loadgen.sh                  raw_epoll
#   PEER=asyncio ./check-loadgen.sh     another peer
set -u
cd "$(dirname "$0")"
. ./peers.sh
PEER=${PEER:-raw_epoll}
DUR=${DUR:-3}
REPS=${REPS:-2}
[ -n "${CMD[$PEER]:-}" ] || { echo "unknown PEER $PEER" >&2; exit 2; }
OUTF=$RESULTS/check-loadgen-$PEER-$(date +%Y%m%d-%H%M%S).txt
mkdir -p "$RESULTS"
port=$((32600 + RANDOM % 1000))
taskset -c 0 ${CMD[$PEER]//\{P\}/$port} >/dev/null 2>&1 &
SPID=$!
trap 'kill $SPID 2>/dev/null' EXIT
build/loadgen --port $port --probe --duration 10 || exit 1

run() { # label, loadgen args...
  local label=$1; shift
  local r
  for r in $(seq 1 "$REPS"); do
    c0=$($BB/c2c | sed 's/c2c_ns=//')
    line=$(taskset -c 1 $BB/loadgen --port $port --duration "$DUR" --warmup 0.5 --spid $SPID "$@")
    c1=$($BB/c2c | sed 's/c2c_ns=//')
    awk -v l="$label" -v c0="$c0" -v c1="$c1" '{
      for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      cpu_lg = v["lg_cpu"] / 100 / v["rps"] * 1e6; cpu_s = v["srv_cpu"] / 100 / v["rps"] * 1e6
      printf "%-22s rps=%-7s p50_us=%-7s p99_us=%-7s lg_cpu=%-5s srv_cpu=%-5s lg_us/req=%.2f srv_us/req=%.2f errors=%s c2c_ns=%s/%s\n",
        l, v["rps"], v["p50_us"], v["p99_us"], v["lg_cpu"], v["srv_cpu"], cpu_lg, cpu_s, v["errors"], c0, c1 }' <<<"$line"
  done
}

{
  echo "# peer=$PEER pingpong 64 B; server on CPU 0, loadgen on CPU 1; $DUR s runs"
  for c in 1 2 5 10 25 50 100 200 1000; do run "conns=$c depth=1" --conns $c; done
  for d in 2 4 8 16 32; do run "conns=50 depth=$d" --conns 50 --depth $d; done
  for c in 1 10; do run "conns=$c depth=16" --conns $c --depth 16; done
} | tee "$OUTF"
echo "written: $OUTF"
