#!/bin/bash
# Compiles the tutorial's programs (docs/tutorial/*.c) against build/libcio.a
# and runs each the way docs/tutorial.md does, checking the output.
# Not part of the build or of make test; run it by hand after `make`:
#     docs/tutorial/check.sh
# Needs: cc, nc (netcat-openbsd), openssl, python3; ports 8888 and 8443 free.
set -u
cd "$(dirname "$0")/../.." || exit 1
[ -f build/libcio.a ] || { echo "check.sh: build/libcio.a is missing: run make first" >&2; exit 1; }
tmp=$(mktemp -d) || exit 1
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
failed=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }
expect() { # NAME WANT GOT
    if [ "$2" == "$3" ]; then ok "$1"; else
        bad "$1"; diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | sed 's/^/     /'
    fi
}
for port in 8888 8443; do
    if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
        echo "check.sh: port $port is in use" >&2
        exit 1
    fi
done

cc -Wall -Wextra -Werror -Iinclude -c docs/tutorial/fragments.c -o "$tmp/fragments.o" &&
    ok "fragments.c compiles" || bad "fragments.c compiles"
for f in docs/tutorial/step*.c; do
    p=$(basename "$f" .c)
    if cc -Wall -Wextra -Werror -Iinclude "$f" build/libcio.a -lssl -lcrypto -lpthread -o "$tmp/$p"; then
        ok "$p compiles"
    else
        bad "$p compiles"
    fi
done
cd "$tmp" || exit 1

# wait_for FILE PATTERN: poll FILE (every 0.1 s, at most 10 s) until a line
# matches PATTERN (grep -i)
wait_for() {
    for _ in $(seq 100); do
        grep -qi "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
# start NAME CMD...: run a server in the background, wait for "listening"
start() {
    local name=$1
    shift
    "$@" >"$name.out" 2>&1 &
    pids+=($!)
    spid=$!
    wait_for "$name.out" listening
}
# stop: SIGTERM the last server and wait; $took is how long it took to
# exit, in tenths of a second
stop() {
    local t0 rc
    t0=$(date +%s%N)
    kill -TERM "$spid"
    wait "$spid"
    rc=$?
    took=$((($(date +%s%N) - t0) / 100000000))
    return $rc
}

# 1
expect "step1" $'hello\nworld\n"world" has 5 letters\nb\nc\na\ngathered 1 1 1' "$(./step1)"

# 2 (the servers' stdout is a file here: stdbuf makes it line-buffered)
start step2 stdbuf -oL ./step2 || bad "step2 starts"
expect "step2 echo" $'hello\nworld' "$(printf 'hello\nworld\n' | nc -N 127.0.0.1 8888)"
kill "$spid"; wait "$spid" 2>/dev/null

# 3 and 4
start step3 stdbuf -oL ./step3 || bad "step3 starts"
expect "step3 lines" $'HELLO\nerror: line too long\nSTILL HERE\nNO NEWLINE\nbye' \
    "$( { printf 'hello\n%040d\nstill here\nno newline' 0; } | nc -N 127.0.0.1 8888)"
expect "step3 resync" $'error: line too long\nNEXT\nbye' \
    "$( { printf 'abc'; sleep 0.2; printf '%080d' 0; sleep 0.2; printf 'tail\nnext\n'; } |
        nc -N 127.0.0.1 8888)"
expect "step4" $'HELLO\nCIO\nbye' "$(./step4 8888 hello cio)"
kill "$spid"; wait "$spid" 2>/dev/null
expect "step4 refused" "connect to 127.0.0.1 port 8888: Connection refused (ECONNREFUSED)" \
    "$(./step4 8888 hello 2>&1)"

# 5
expect "step5" $'readline: timed out; 3 bytes kept for the next read\nreadline: hello
wait_for: timed out, and the task was cancelled\nreader: Operation canceled
reader: the server answered ok goodbye\njoined; the reader returned ECANCELED' "$(./step5)"

# 6: an idle client does not hold the shutdown; one that does not read is
# aborted after the 5 s grace.  nc keeps the connection open after its
# input ends; the server has answered once HI is back.
start step6 stdbuf -oL ./step6 || bad "step6 starts"
printf 'hi\n' | nc 127.0.0.1 8888 >idle.out &
wait_for idle.out HI || bad "step6 answers the idle client"
stop && [ "$took" -lt 10 ] && ok "step6 stops at once with an idle client" ||
    bad "step6 stops at once with an idle client ($took/10 s)"
grep -q "Terminated: shutting down" step6.out && ok "step6 log" || bad "step6 log"
# A client that sends lines and never reads: once its send has made no
# progress for 1 s, the server's handler is blocked in drain (it no longer
# reads), and it says so in stuck.out.
start step6b stdbuf -oL ./step6 || bad "step6 starts again"
python3 - >stuck.out <<'PY' &
import socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", 8888))
s.settimeout(0.2)
end = time.time() + 30
stalled = 0
try:
    while time.time() < end:
        try:
            s.send(b"x" * 30 + b"\n")
            stalled = 0
        except socket.timeout:
            stalled += 1
            if stalled == 5:
                print("stuck", flush=True)
except OSError:
    pass
PY
wait_for stuck.out stuck || bad "step6's handler blocks in drain"
stop
[ "$took" -ge 45 ] && [ "$took" -lt 70 ] && ok "step6 aborts a client that does not read after the grace" ||
    bad "step6 aborts a client that does not read after the grace ($took/10 s)"
wait

# 8
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout key.pem -out cert.pem 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj /CN=example.com -addext "subjectAltName=DNS:example.com" \
    -keyout other.key -out other.pem 2>/dev/null
start step8 stdbuf -oL ./step8_server cert.pem key.pem || bad "step8_server starts"
expect "step8 client" $'TLSv1.3, TLS_AES_256_GCM_SHA384\nHELLO\nTLS' \
    "$(./step8_client localhost 8443 cert.pem hello tls 2>&1)"
expect "step8 untrusted" \
    "CIO_ETLSCERT: TLS certificate verification failed (certificate verify failed: self-signed certificate)" \
    "$(./step8_client localhost 8443 /etc/ssl/certs/ca-certificates.crt hello 2>&1)"
expect "step8 plain client" "talk: end of stream before the requested data (IncompleteReadError)" \
    "$(./step4 8443 hello 2>&1)"
expect "step8 s_client" "HELLO S_CLIENT" "$(printf 'hello s_client\n' |
    timeout 2 openssl s_client -quiet -connect localhost:8443 -CAfile cert.pem 2>/dev/null)"
stop
start step8b stdbuf -oL ./step8_server other.pem other.key || bad "step8_server starts"
expect "step8 host name" \
    "CIO_ETLSHOSTNAME: TLS certificate does not match the host name (certificate verify failed: hostname mismatch)" \
    "$(./step8_client localhost 8443 other.pem hello 2>&1)"
stop
# A plaintext server that speaks first (docs/tutorial.md says why not step
# 6's, which waits for a line).  nc -v says "Listening" once it listens.
# (A background command's stdin is /dev/null unless redirected on it.)
printf '220 a plaintext server\r\n' >greeting
nc -lv 127.0.0.1 8888 <greeting >plain.out 2>&1 &
pids+=($!)
spid=$!
wait_for plain.out listening || bad "nc listens"
expect "step8 TLS client, plain server" "CIO_ETLSNOTLS: peer did not speak TLS (wrong version number)" \
    "$(./step8_client localhost 8888 cert.pem hello 2>&1)"
kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
expect "step8 bad key" \
    "certificate or key: TLS protocol error (error:05800074:x509 certificate routines::key values mismatch)" \
    "$(./step8_server cert.pem other.key 2>&1)"

echo "$failed failed"
[ "$failed" -eq 0 ]
