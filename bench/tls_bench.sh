#!/usr/bin/env bash
# TLS on loopback, side by side: cio (bench/tls_echo_server.c), Go's
# crypto/tls (bench/peers/go_tls_echo.go) and `openssl s_server`, driven by
# bench/tls_load.c (plain OpenSSL, no cio).
#
#   bench/tls_bench.sh                          everything, 3 repeats
#   REPS=1 DUR=2 WARM=0.5 bench/tls_bench.sh    a quick run
#   TESTS="hs_ec send" SERVERS="cio go" bench/tls_bench.sh
#   EXTRA="mine=/path/server {P} {CERT} {KEY} {DISCARD}" bench/tls_bench.sh
#
# Tests (each server on CPU 0 with `taskset -c 0`, the load on CPU 1):
#   hs_ec   full handshakes (fresh TCP connection each, no resumption,
#           close_notify, the server closes), HS_CONNS (8) at a time,
#           EC P-256 certificate: handshakes/s and server CPU per handshake
#   hs_rsa  the same with an RSA-2048 certificate
#   send    64 KiB application writes on SEND_CONNS (1) connection, the
#           server reads and discards (s_server serves one connection at a
#           time and does not echo): MB/s sent (1 MB = 1e6 bytes)
#   echo    64 KiB writes echoed back on ECHO_CONNS (4) connections, at
#           most 4 chunks in flight each (cio and Go; s_server cannot echo)
# Every run starts a fresh server; the order is repeat > test > server, so
# drift hits every server alike.  Certificates are made at run time with
# the openssl CLI in a temporary folder.  TLS 1.3; the client offers only
# SUITE (default TLS_AES_256_GCM_SHA384, what cio and s_server pick with
# their defaults), so every server runs the same cipher; X25519 key
# exchange (every side's first choice).
#
# Two figures per run: the rate the load generator saw, and the server's
# CPU time per operation (utime + stime from /proc over the measured
# window), turned into a capacity: operations per second per server core.
# On this 2-core machine tls_load saturates CPU 1 in hs_ec, send and echo
# (the client's side of TLS costs as much as the server's: for a
# handshake, more), so those rates are the load generator's limit and the
# capacity is the server comparison; hs_rsa is server-bound.
#
# Disturbed runs (another process on our CPUs) are retried: a run is
# disturbed when the core-to-core round trip measured by
# bench/harness/c2c.c before or after it exceeds FAR_NS (250 ns), or when
# neither side kept its CPU 80% busy (one always does here, except in
# s_server's handshakes: it serves one connection at a time).  TRIES (3)
# attempts; the table uses the clean runs (all runs, marked *, if none was
# clean).
#
# Output: the table of medians on stderr; metric lines "<name> <value>
# <unit>" on stdout for bench/run.sh; raw tls_load lines in
# $BIN_DIR/tls_bench_raw.txt, the servers' stderr beside it
# (tls_bench_raw.server.<name>: s_server logs every connection closed
# without close_notify, as the stream tests end).
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${CIO_BUILD_DIR:-build}
BIN_DIR=$(cd "$BUILD_DIR/bench" 2>/dev/null && pwd) || {
    echo "tls_bench.sh: $BUILD_DIR/bench missing: build with -DCIO_BUILD_BENCH=ON" >&2
    exit 1
}
DUR=${DUR:-4}
WARM=${WARM:-1}
REPS=${REPS:-3}
TRIES=${TRIES:-3}
FAR_NS=${FAR_NS:-250}
TESTS=${TESTS:-"hs_ec hs_rsa send echo"}
SERVERS=${SERVERS:-"cio go openssl"}
HS_CONNS=${HS_CONNS:-8}
SEND_CONNS=${SEND_CONNS:-1}
ECHO_CONNS=${ECHO_CONNS:-4}
SUITE=${SUITE:-TLS_AES_256_GCM_SHA384}
RAW=${RAW:-$BIN_DIR/tls_bench_raw.txt}
SERVER_LOG=${RAW%.txt}.server # + .<server>: the servers' stderr

LOAD=$BIN_DIR/tls_load
for exe in "$LOAD" "$BIN_DIR/tls_echo_server"; do
    [ -x "$exe" ] || { echo "tls_bench.sh: $exe not built" >&2; exit 1; }
done
for tool in openssl taskset ss; do
    command -v $tool >/dev/null || { echo "tls_bench.sh: $tool is missing" >&2; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/cio-tls-bench.XXXXXX")
SPID=""
# shellcheck disable=SC2317 # run by the trap
cleanup() {
    [ -n "$SPID" ] && kill "$SPID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- helpers built at run time (never committed) -------------------------------
GO_BIN=$BIN_DIR/go_tls_echo
if [[ " $SERVERS " == *" go "* ]]; then
    if ! command -v go >/dev/null ||
        ! GO111MODULE=off GOFLAGS='' GOCACHE=${GOCACHE:-${TMPDIR:-/tmp}/cio-go-cache} \
            GOPATH=${GOPATH:-$TMP/gopath} go build -o "$GO_BIN" "$ROOT/bench/peers/go_tls_echo.go"; then
        echo "tls_bench.sh: cannot build the Go peer (apt-get install golang-go): skipped" >&2
        SERVERS=$(echo " $SERVERS " | sed 's/ go / /')
    fi
fi
C2C=${C2C:-}
if [ -z "$C2C" ] &&
    ${CC:-cc} -O2 -pthread -o "$TMP/c2c" "$ROOT/bench/harness/c2c.c" 2>/dev/null; then
    C2C=$TMP/c2c
fi
[ -n "$C2C" ] || echo "tls_bench.sh: no c2c probe (bench/harness/c2c.c): no placement checks" >&2

# ---- throwaway certificates ---------------------------------------------------
mkcert() { # mkcert NAME openssl-req-key-options...
    local name=$1
    shift
    openssl req -x509 -nodes -days 2 -subj /CN=localhost \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" "$@" \
        -keyout "$TMP/$name.key" -out "$TMP/$name.pem" 2>/dev/null ||
        { echo "tls_bench.sh: openssl req failed for $name" >&2; exit 1; }
}
mkcert ec -newkey ec -pkeyopt ec_paramgen_curve:prime256v1
mkcert rsa -newkey rsa:2048
mkfifo "$TMP/stdin" # s_server's stdin: open, never readable, never EOF

# ---- servers and tests ------------------------------------------------------------
# Servers of your own beside these (variants under test): EXTRA="name=command
# {P} {CERT} {KEY} {DISCARD};name2=..." -- {DISCARD} becomes "discard" in the
# send test and nothing otherwise.  They join every test (echo too).
declare -A EXTRA_CMD=()
IFS=';' read -ra _extra <<<"${EXTRA:-}"
for kv in "${_extra[@]}"; do
    [ -n "$kv" ] || continue
    EXTRA_CMD[${kv%%=*}]=${kv#*=}
    SERVERS="$SERVERS ${kv%%=*}"
done

server_cmd() { # server_cmd SERVER PORT KEY DISCARD
    local cert=$TMP/$3.pem key=$TMP/$3.key cmd
    case $1 in
    cio) echo "$BIN_DIR/tls_echo_server $2 $cert $key ${4:+discard}" ;;
    go) echo "$GO_BIN $2 $cert $key ${4:+discard}" ;;
    openssl) echo "openssl s_server -quiet -accept 127.0.0.1:$2 -cert $cert -key $key" ;;
    *)
        cmd=${EXTRA_CMD[$1]//\{P\}/$2}
        cmd=${cmd//\{CERT\}/$cert}
        cmd=${cmd//\{KEY\}/$key}
        echo "${cmd//\{DISCARD\}/${4:+discard}}"
        ;;
    esac
}

test_args() { # the key and the tls_load arguments of a test
    case $1 in
    hs_ec) echo "ec handshake --conns $HS_CONNS" ;;
    hs_rsa) echo "rsa handshake --conns $HS_CONNS" ;;
    send) echo "ec send --conns $SEND_CONNS --chunk 65536" ;;
    echo) echo "ec stream --conns $ECHO_CONNS --chunk 65536 --depth 4" ;;
    *) return 1 ;;
    esac
}

servers_for() {
    local s out=""
    for s in $SERVERS; do
        [ "$1" = echo ] && [ "$s" = openssl ] && continue
        out="$out $s"
    done
    echo "${out# }"
}

wait_listen() { # wait_listen PORT PID: up to 10 s
    local _
    for _ in $(seq 1 200); do
        kill -0 "$2" 2>/dev/null || return 1
        [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ] && return 0
        sleep 0.05
    done
    return 1
}

stop_server() {
    local _
    kill "$SPID" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$SPID" 2>/dev/null
    wait "$SPID" 2>/dev/null
    SPID=""
}

c2c_ns() {
    [ -n "$C2C" ] || { echo 0; return; }
    "$C2C" 2>/dev/null | sed -n 's/^c2c_ns=\([0-9]*\).*/\1/p'
}

# Below the ephemeral range (32768-60999 here): a port the load generator's
# own connections hold cannot be listened on.
port=$((21000 + RANDOM % 4000))
FAILED=0

# run_one REP TEST SERVER [extra tls_load args]: one measurement (retried
# while disturbed), each attempt a line in $RAW.
run_one() {
    local rep=$1 t=$2 srv=$3
    shift 3
    local key args discard="" line try c0 c1 clean
    read -r key args <<<"$(test_args "$t")"
    [ "$t" = send ] && discard=1
    for try in $(seq 1 "$TRIES"); do
        port=$((port + 1))
        echo "== rep=$rep test=$t try=$try port=$port" >>"$SERVER_LOG.$srv"
        # shellcheck disable=SC2046 # the command line is meant to be split
        taskset -c 0 $(server_cmd "$srv" "$port" "$key" "$discard") \
            <>"$TMP/stdin" >/dev/null 2>>"$SERVER_LOG.$srv" &
        SPID=$!
        if ! wait_listen "$port" "$SPID"; then
            echo "rep=$rep test=$t server=$srv try=$try FAILED_TO_START (see $SERVER_LOG.$srv)" |
                tee -a "$RAW" >&2
            stop_server
            [ "$try" -lt "$TRIES" ] && continue
            FAILED=1
            return
        fi
        c0=$(c2c_ns)
        # shellcheck disable=SC2086
        line=$(taskset -c 1 "$LOAD" $args --port "$port" --spid "$SPID" --ciphersuites "$SUITE" \
            "$@" 2>&1 | tr '\n' ' ')
        stop_server
        c1=$(c2c_ns)
        # s_server handshakes one connection at a time: neither side is busy.
        local serial=0
        [[ $t == hs_* && $srv == openssl ]] && serial=1
        clean=$(awk -v a="${c0:-0}" -v b="${c1:-0}" -v far="$FAR_NS" -v serial=$serial -v l="$line" 'BEGIN {
            s = l; sub(/.*srv_cpu=/, "", s); g = l; sub(/.*lg_cpu=/, "", g)
            busy = (s + 0 > g + 0 ? s + 0 : g + 0)
            print (a + 0 > far || b + 0 > far || (!serial && busy < 80)) ? 0 : 1 }')
        echo "rep=$rep test=$t server=$srv try=$try c2c0=$c0 c2c1=$c1 clean=$clean $line" >>"$RAW"
        case $line in *errors=0*) ;; *) echo "  $t/$srv: $line" >&2; FAILED=1; return ;; esac
        [ "$clean" = 1 ] && return
        [ "$try" -lt "$TRIES" ] || return
        echo "  $t/$srv: disturbed (c2c $c0/$c1 ns), retrying" >&2
        sleep 2
    done
}

# ---- the runs ---------------------------------------------------------------------
{
    echo "# $(date -Is) DUR=$DUR WARM=$WARM REPS=$REPS SUITE=$SUITE HS_CONNS=$HS_CONNS" \
        "SEND_CONNS=$SEND_CONNS ECHO_CONNS=$ECHO_CONNS"
    echo "# $(uname -srm); $(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-);" \
        "$(openssl version); $(command -v go >/dev/null && go version)"
} >"$RAW"
rm -f "$SERVER_LOG".*
echo "tls_bench: servers: $SERVERS; tests: $TESTS; $REPS x ${DUR}s (+${WARM}s warm-up);" \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# Correctness first: every echoed byte checked, and one handshake each.
for srv in $(servers_for echo); do
    TRIES=1 run_one 0 echo "$srv" --duration 1 --warmup 0 --verify
done
for srv in $SERVERS; do
    TRIES=1 run_one 0 hs_ec "$srv" --duration 0.5 --warmup 0
done

for rep in $(seq 1 "$REPS"); do
    for t in $TESTS; do
        test_args "$t" >/dev/null || { echo "tls_bench.sh: unknown test $t" >&2; exit 2; }
        for srv in $(servers_for "$t"); do
            echo "  rep $rep/$REPS: $t $srv" >&2
            run_one "$rep" "$t" "$srv" --duration "$DUR" --warmup "$WARM"
        done
    done
done

# ---- the table ------------------------------------------------------------------------
/usr/bin/python3 - "$RAW" <<'PY' || FAILED=1
import re, statistics, sys

runs = {}   # (test, server) -> list of runs
info = {}   # test -> protocol, cipher, group, key
for line in open(sys.argv[1]):
    if line.startswith("#") or line.startswith("rep=0 ") or "FAILED" in line:
        continue
    kv = dict(re.findall(r"(\w+)=(\S+)", line))
    if "mode" not in kv:
        continue
    runs.setdefault((kv["test"], kv["server"]), []).append(kv)
    info[kv["test"]] = (f'{kv["proto"]} {kv["cipher"]}, {kv["group"]} key exchange, '
                        f'{kv["key"]} certificate, {kv.get("sig", "?")} signature')

def usable(rs):
    clean = [r for r in rs if r.get("clean") == "1"]
    return (clean, "") if clean else (rs, "*")

def med(rs, k):
    v = [float(r[k]) for r in rs if float(r.get(k, -1)) > 0]
    return statistics.median(v) if v else float("nan")

names = {"hs_ec": "handshakes EC P-256", "hs_rsa": "handshakes RSA-2048",
         "send": "64 KiB send-only", "echo": "64 KiB echo"}
order = {"cio": 0, "go": 1, "openssl": 2}

def paired(a, b, k, inverse):
    """Median over repeats of a's figure / b's, both from clean runs of the
    same repeat (run next to each other: the machine's drift cancels);
    None with fewer than 2 such pairs."""
    def by_rep(rs):
        return {r["rep"]: float(r[k]) for r in rs if r.get("clean") == "1" and float(r[k]) > 0}
    x, y = by_rep(a), by_rep(b)
    q = [(y[r] / x[r]) if inverse else (x[r] / y[r]) for r in x if r in y]
    return statistics.median(q) if len(q) >= 2 else None

err = sys.stderr
fmt = "%-20s %-9s %4s %10s %-5s %9s %-6s %11s %6s %6s %6s %6s"
print(file=err)
print(fmt % ("test", "server", "runs", "rate", "unit", "srv CPU", "per", "capacity", "srv%",
             "load%", "rate/", "cap/"), file=err)
print(fmt % ("", "", "", "(median)", "", "", "", "/core", "", "", "cio", "cio"), file=err)
metrics = []
tests = list(dict.fromkeys(t for t, _ in runs))
for t in tests:
    hs = t.startswith("hs")
    rate_k, cpu_k, unit, per = ("hs_per_s", "srv_us_per_hs", "hs/s", "us/hs") if hs else \
        ("mbps", "srv_us_per_mb", "MB/s", "us/MB")
    servers = sorted((s for tt, s in runs if tt == t), key=lambda s: (order.get(s, 9), s))
    rows = {s: usable(runs[(t, s)]) for s in servers}
    rate = {s: med(rs, rate_k) for s, (rs, _) in rows.items()}
    cpu = {s: med(rs, cpu_k) for s, (rs, _) in rows.items()}
    cap = {s: 1e6 / cpu[s] for s in rows}
    for s, (rs, mark) in rows.items():
        print(fmt % (names.get(t, t), s, "%d%s" % (len(rs), mark), "%.1f" % rate[s], unit,
                     "%.1f" % cpu[s], per, "%.1f" % cap[s], "%.0f" % med(rs, "srv_cpu"),
                     "%.0f" % med(rs, "lg_cpu"),
                     "%.2f" % (rate[s] / rate["cio"]) if "cio" in rows else "-",
                     "%.2f" % (cap[s] / cap["cio"]) if "cio" in rows else "-"), file=err)
        metrics += [(f"tls.{t}.{s}", rate[s], unit), (f"tls.{t}.{s}_cap", cap[s], unit)]
    # cio against Go (handshakes) or the best other server (throughput):
    # rate ratio and capacity ratio, > 1 when cio is ahead; paired by
    # repeat when there are clean pairs.
    peers = [s for s in rows if s != "cio" and rate[s] > 0]
    if "cio" in rows and peers:
        if hs and "go" in rows:
            tag, by_rate, by_cap = "go", "go", "go"
        else:
            tag = "best"
            by_rate = max(peers, key=lambda s: rate[s])
            by_cap = max(peers, key=lambda s: cap[s])
        cio_runs = runs[(t, "cio")]
        rr = paired(cio_runs, runs[(t, by_rate)], rate_k, False)
        cr = paired(cio_runs, runs[(t, by_cap)], cpu_k, True)
        rr = rr if rr is not None else rate["cio"] / rate[by_rate]
        cr = cr if cr is not None else cap["cio"] / cap[by_cap]
        metrics.append((f"tls.{t}.cio_vs_{tag}", rr, "x"))
        metrics.append((f"tls.{t}.cap_vs_{tag}", cr, "x"))
        print("%-20s cio_vs_%s = cio / %s rate %.2f; cap_vs_%s = cio / %s capacity %.2f"
              % ("", tag, by_rate, rr, tag, by_cap, cr), file=err)
    print("%-20s %s" % ("", info[t]), file=err)
print("\ncapacity: 1e6 / server CPU per operation = operations per second on one server core."
      "\nrate/, cap/: the server's median / cio's.  cio_vs_*, cap_vs_*: cio / the peer, the"
      " median of the\nratios within each repeat (clean runs side by side), or of the medians"
      " with < 2 such pairs.\nruns: clean runs used (* = none was clean: all used).", file=err)
for name, v, unit in metrics:
    print(f"{name} {v:.2f} {unit}")
PY
echo "raw results: $RAW" >&2
exit $FAILED
