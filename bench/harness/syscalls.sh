#!/usr/bin/env bash
# syscalls.sh - syscalls and context switches per request, server and loadgen,
# counted with perf tracepoints (much less perturbing than strace).
#
#   ./syscalls.sh                 scenario (a) for every echo peer
#   SCEN=d ./syscalls.sh          another scenario (a|b|c|d|e, as in run-peers.sh)
#
# For each peer: start it on CPU 0, run loadgen on CPU 1 (1 s warmup + 4 s),
# and 1.5 s into the run attach `perf stat` for 2 s to the server and to the
# loadgen.  Per-request figures divide the counts by rps * 2 s (rps from the
# same loadgen run).  Output: $RESULTS/syscalls-<scen>-<stamp>.txt
# (default /tmp/cio-bench-results)
set -u
cd "$(dirname "$0")"
. ./peers.sh
SCEN=${SCEN:-a}
if [ "$SCEN" = e ]; then DEF=$LINE_PEERS; else DEF=$ECHO_PEERS; fi
PEERS=${PEERS:-$DEF}
EV="raw_syscalls:sys_enter,context-switches"
for s in read write readv writev recvfrom sendto recvmsg sendmsg epoll_wait epoll_pwait \
         epoll_ctl futex ioctl nanosleep getpid mmap munmap madvise brk accept4 \
         getsockopt setsockopt rt_sigreturn tgkill sched_yield; do
  EV="$EV,syscalls:sys_enter_$s"
done
OUTF=$RESULTS/syscalls-$SCEN-$(date +%Y%m%d-%H%M%S).txt
mkdir -p "$RESULTS"
port=$((31500 + RANDOM % 1000))
# "utime stime" in clock ticks of a whole process
ustime() { awk '{sub(/.*\) /, ""); print $12, $13}' /proc/$1/stat 2>/dev/null; }
SPID=""
trap '[ -n "$SPID" ] && kill $SPID 2>/dev/null' EXIT

for p in $PEERS; do
  port=$((port + 1))
  cmd=${CMD[$p]//\{P\}/$port}
  taskset -c 0 $cmd >/dev/null 2>&1 &
  SPID=$!
  $BB/loadgen --port "$port" --probe --duration 10 || { echo "$p failed to start"; kill $SPID; continue; }
  c2c0=$($BB/c2c)
  taskset -c 1 $BB/loadgen --port "$port" ${ARGS[$SCEN]} --duration 4 --warmup 1 \
      --spid "$SPID" > /tmp/syscalls-lg.$$ 2>/dev/null &
  LG=$!
  sleep 1.5
  s0=$(ustime $SPID); l0=$(ustime $LG); w0=$(date +%s.%N)
  perf stat -x, -e "$EV" -p "$SPID" -- sleep 2 2> /tmp/syscalls-srv.$$ >/dev/null &
  PS=$!
  perf stat -x, -e "$EV" -p "$LG" -- sleep 2 2> /tmp/syscalls-cli.$$ >/dev/null
  s1=$(ustime $SPID); l1=$(ustime $LG); w1=$(date +%s.%N)
  wait $PS $LG
  kill "$SPID"; wait "$SPID" 2>/dev/null; SPID=""
  line=$(cat /tmp/syscalls-lg.$$)
  rps=$(sed -n 's/.*rps=\([0-9]*\).*/\1/p' <<<"$line")
  {
    echo "== peer=$p scen=$SCEN rps=$rps before:$c2c0 after:$($BB/c2c)"
    echo "   $line"
    awk -v a="$s0" -v b="$s1" -v c="$l0" -v d="$l1" -v hz="$(getconf CLK_TCK)" \
        -v el="$(echo "$w1 - $w0" | bc)" 'BEGIN {
      split(a, x); split(b, y); split(c, u); split(d, w); k = 100 / hz / el
      printf "   cpu while perf attached (%.2f s, perf overhead included): server usr=%.0f%% sys=%.0f%%   loadgen usr=%.0f%% sys=%.0f%%\n",
        el, (y[1]-x[1])*k, (y[2]-x[2])*k, (w[1]-u[1])*k, (w[2]-u[2])*k }'
    $PY - "$rps" /tmp/syscalls-srv.$$ /tmp/syscalls-cli.$$ <<'EOF'
import sys
rps = float(sys.argv[1] or 0)
reqs = rps * 2.0
def load(path):
    d = {}
    for ln in open(path):
        f = ln.strip().split(",")
        if len(f) > 2 and f[0].replace(".", "").isdigit():
            d[f[2].replace("syscalls:sys_enter_", "")] = float(f[0])
    return d
srv, cli = load(sys.argv[2]), load(sys.argv[3])
keys = ["raw_syscalls:sys_enter", "context-switches"] + sorted(
    k for k in set(srv) | set(cli)
    if k not in ("raw_syscalls:sys_enter", "context-switches")
    and (srv.get(k, 0) + cli.get(k, 0)) > 0.001 * reqs)
print(f"   {'per request':<24}{'server':>10}{'loadgen':>10}")
for k in keys:
    name = "ALL syscalls" if k == "raw_syscalls:sys_enter" else k
    print(f"   {name:<24}{srv.get(k, 0) / reqs:>10.3f}{cli.get(k, 0) / reqs:>10.3f}")
EOF
  } | tee -a "$OUTF"
done
rm -f /tmp/syscalls-*.$$
echo "written: $OUTF"
