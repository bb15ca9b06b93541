# Sourced by run-peers.sh, syscalls.sh and check-loadgen.sh (from this
# folder): builds the load generator and the peers into BENCH_BUILD, raises
# the descriptor limit, and defines
#   CMD[peer]   the command that serves on port {P}
#   ARGS[scen]  loadgen's arguments for scenarios a-e
#   ECHO_PEERS, LINE_PEERS  the peers of scenarios a-d and of e
#   RESULTS     where the scripts write their results
# A peer whose library or compiler is missing does not build; callers skip
# peers whose program is not there.
BB=${BENCH_BUILD:-${TMPDIR:-/tmp}/cio-bench-harness}
export BENCH_BUILD=$BB
RESULTS=${RESULTS:-${TMPDIR:-/tmp}/cio-bench-results}
make -s -k all || echo "some peers did not build (tools/deps.sh --check extra); they are skipped" >&2
[ -x "$BB/loadgen" ] && [ -x "$BB/c2c" ] || { echo "build failed: loadgen, c2c" >&2; exit 1; }
# 1000 connections on each side plus slack
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 20000
PY=/usr/bin/python3

declare -A CMD=(
  [raw_epoll]="$BB/raw_epoll {P}"
  [raw_uring]="$BB/raw_uring {P}"
  [libuv]="$BB/libuv_echo {P}"
  [libevent]="$BB/libevent_echo {P}"
  [asyncio]="$PY ../peers/asyncio_echo.py {P}"
  [uvloop]="$PY ../peers/asyncio_echo.py {P} uvloop"
  [go]="$BB/go_echo {P}"
  [node]="node ../peers/node_echo.js {P}"
  [asyncio_lines]="$PY ../peers/asyncio_echo.py {P} lines"
  [uvloop_lines]="$PY ../peers/asyncio_echo.py {P} lines uvloop"
)
ECHO_PEERS="raw_epoll raw_uring libuv libevent asyncio uvloop go node"
LINE_PEERS="raw_epoll asyncio asyncio_lines uvloop_lines"

# scenario -> loadgen arguments
declare -A ARGS=(
  [a]="--mode pingpong --size 64 --conns 50 --depth 1"
  [b]="--mode pingpong --size 4096 --conns 50 --depth 1"
  [c]="--mode pingpong --size 64 --conns 1000 --depth 1"
  [d]="--mode stream --size 65536 --conns 4"
  [e]="--mode pingpong --lines --size 64 --conns 50 --depth 1"
)
