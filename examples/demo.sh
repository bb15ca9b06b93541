#!/usr/bin/env bash
# The cio tour (`make demo`): runs the examples against each other and
# prints what happens.  Everything is on 127.0.0.1 with ports the kernel
# picks (--port 0, read back from each server's "listening on" line); no
# step needs the internet.  It builds nothing: `make demo` builds first.
#
# Every step checks its own output and says "ok" or "FAILED: why"; the
# script goes on with the next step either way and exits 1 if any failed.
# Every server and client it starts is stopped on exit, whatever happens.
#
# usage: examples/demo.sh          (binaries from ${BUILD_DIR:-build}/examples)
# needs: openssl (throwaway certificate), nc (netcat-openbsd: chat clients
#        and a silent server), timeout (coreutils)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$(cd "${BUILD_DIR:-$root/build}/examples" 2>/dev/null && pwd) || {
    echo "demo: no ${BUILD_DIR:-$root/build}/examples: build first (make demo does)" >&2
    exit 1
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cio-demo.XXXXXX")
cd "$tmp" # the certificate's files show as cert.pem and key.pem
STEP_TIMEOUT=10 # seconds any one command may take

declare -A pid=() # name -> pid of every background process
fds=()            # fifo ends the script holds open
failures=0

cleanup() {
    local p
    for p in "${pid[@]}"; do
        kill -KILL "$p" 2>/dev/null || true
    done
    for p in "${pid[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- transcript --------------------------------------------------------------------

step() { printf '\n== %s ==\n' "$*"; }
say() { printf '  %s\n' "$*"; }
# cmd ARGS...: a command line as one would type it (our programs without
# their directory, arguments quoted where the shell needs it).
cmd() {
    local a line=
    for a in "$@"; do
        a=${a#"$bin"/}
        [[ $a =~ ^[-A-Za-z0-9_./:=@%+,]+$ ]] || a="'$a'"
        line+=" $a"
    done
    printf '  $%s\n' "$line"
}
indent() { sed 's/^/    /'; }
ok() { say "ok"; }
fail() {
    say "FAILED: $*"
    failures=$((failures + 1))
}

# ---- processes ---------------------------------------------------------------------

# start NAME PROGRAM ARGS...: run PROGRAM in the background, its output
# (stdout and stderr) in $tmp/NAME.log, and wait for its first line, which
# must end in the port it listens on ("listening on 127.0.0.1:PORT", or
# nc's "Listening on 127.0.0.1 PORT").  Sets $port.
start() {
    local name=$1 fifo=$tmp/$1.fifo line fd
    shift
    mkfifo "$fifo"
    "$@" >"$fifo" 2>&1 &
    pid[$name]=$!
    exec {fd}<"$fifo"
    if ! read -r -t 5 -u "$fd" line || ! [[ $line =~ ([0-9]+)$ ]]; then
        exec {fd}<&-
        fail "$name did not start: ${line:-no output}"
        return 1
    fi
    port=${BASH_REMATCH[1]}
    cmd "$@"
    say "$line"
    cat <&"$fd" >"$tmp/$name.log" &
    pid[$name.log]=$!
    exec {fd}<&-
}

# stop NAME: SIGTERM, then it must exit 0 (graceful shutdown) within 5 s.
# (bash reaps its children as they exit, so kill -0 fails once it has.)
stop() {
    local p=${pid[$1]} rc=0 i
    kill -TERM "$p" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.05
    done
    if kill -KILL "$p" 2>/dev/null; then
        fail "$1 was still running 5 s after SIGTERM"
        return 1
    fi
    wait "$p" || rc=$?
    unset "pid[$1]"
    [ "$rc" -eq 0 ] || {
        fail "$1 exited with status $rc after SIGTERM"
        return 1
    }
}

# run PROGRAM ARGS...: show the command, run it (bounded), indent its
# output; leaves the output in $out and the exit status in $rc.
run() {
    cmd "$@"
    rc=0
    out=$(timeout "$STEP_TIMEOUT" "$@" 2>&1) || rc=$?
    [ -z "$out" ] || printf '%s\n' "$out" | indent
}

# wait_for FILE GREP-ARGS...: until grep finds them in FILE (5 s at most).
wait_for() {
    local deadline=$((SECONDS + 5))
    until grep -q "${@:2}" "$1" 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}

# ---- the steps -----------------------------------------------------------------------

echo_round_trip() {
    step "1. echo round trip: echo_server, echo_client"
    start echo "$bin/echo_server" --port 0 || return 1
    run "$bin/echo_client" --port "$port" "hello, cio"
    stop echo || return 1
    if [ "$rc" -ne 0 ] || [ "$out" != "hello, cio" ]; then
        fail "expected the echo \"hello, cio\""
        return 1
    fi
}

readline_echo() {
    step "2. readline echo: echo_server --lines, echo_client --lines"
    start lines "$bin/echo_server" --lines --port 0 || return 1
    run "$bin/echo_client" --lines --port "$port" "first line" "second line"
    stop lines || return 1
    if [ "$rc" -ne 0 ] || [ "$out" != $'first line\nsecond line' ]; then
        fail "expected the two lines back, in order"
        return 1
    fi
}

# A chat client: nc with its stdin on a fifo we write to (fd in
# ${chat_in[NAME]}) and its output in $tmp/NAME.out.
declare -A chat_in=()
chat_join() {
    local name=$1 fd
    mkfifo "$tmp/$name.in"
    nc -N 127.0.0.1 "$2" <"$tmp/$name.in" >"$tmp/$name.out" 2>&1 &
    pid[$name]=$!
    exec {fd}>"$tmp/$name.in"
    chat_in[$name]=$fd
    fds+=("$fd")
}

chat_say() {
    say "$1 > $2"
    printf '%s\n' "$2" >&"${chat_in[$1]}"
}

# chat_sees NAME LINE: NAME receives exactly LINE.
chat_sees() {
    if wait_for "$tmp/$1.out" -xF -- "$2"; then
        say "$1 < $2"
    else
        fail "$1 never got \"$2\""
        return 1
    fi
}

chat() {
    step "3. chat: three clients, one deliberately slow"
    start chat "$bin/chat_server" --max-queue 16 --drain-timeout 2 --port 0 || return 1
    local chat_port=$port slowfd i batch sent=0 pad got
    chat_join alice "$chat_port"
    chat_sees alice "* welcome, guest1; 1 online" || return 1
    chat_join bob "$chat_port"
    chat_sees bob "* welcome, guest2; 2 online" || return 1
    chat_say alice "hi bob"
    chat_sees bob "guest1: hi bob" || return 1

    # slowpoke reads nothing: a 4 KiB receive buffer, and its output goes
    # into a pipe nobody empties.
    mkfifo "$tmp/slow.out"
    nc -d -I 4096 127.0.0.1 "$chat_port" >"$tmp/slow.out" 2>/dev/null &
    pid[slowpoke]=$!
    exec {slowfd}<"$tmp/slow.out"
    fds+=("$slowfd")
    chat_sees bob "* guest3 joined" || return 1
    say "slowpoke (guest3) connected and never reads"

    # alice floods the room until the server gives up on slowpoke; bob
    # must get every line, in order, all the same.
    pad=$(printf '%0900d' 0)
    for ((batch = 0; batch < 100; batch++)); do
        for ((i = 0; i < 50; i++)); do
            printf 'flood %d %s\n' $((sent + i)) "$pad"
        done >&"${chat_in[alice]}"
        sent=$((sent + 50))
        grep -q "guest3 dropped" "$tmp/chat.log" 2>/dev/null && break
    done
    say "alice > ($sent lines of 900 bytes)"
    wait_for "$tmp/chat.log" "guest3 dropped" || {
        fail "the server never dropped slowpoke"
        return 1
    }
    say "chat_server: $(grep -m1 "guest3 dropped" "$tmp/chat.log")"
    chat_sees bob "* guest3 was dropped (too slow)" || return 1
    wait_for "$tmp/bob.out" "^guest1: flood $((sent - 1)) " || {
        fail "bob did not get all $sent flood lines"
        return 1
    }
    got=$(grep '^guest1: flood ' "$tmp/bob.out" | awk '$3 != NR - 1 { bad = 1 } END { print NR, bad + 0 }')
    [ "$got" = "$sent 0" ] || {
        fail "bob got the flood out of order or incomplete ($got)"
        return 1
    }
    say "bob < (all $sent flood lines, in order)"
    chat_say bob "still here, alice?"
    chat_sees alice "guest2: still here, alice?" || return 1
    stop chat || return 1
    chat_sees alice "* server shutting down" || return 1
}

fetch_many_step() {
    step "4. fetch_many: four targets, two at a time, one that never answers"
    start http "$bin/hello_http" --port 0 || return 1
    local http_port=$port
    start lines "$bin/echo_server" --lines --port 0 || return 1
    local echo_port=$port
    say "(a silent server: nc accepts the connection and never says a word)"
    start silent nc -lvnd 127.0.0.1 0 || return 1
    local silent_port=$port
    run "$bin/fetch_many" --concurrency 2 --timeout 1 "http://127.0.0.1:$http_port/" \
        "127.0.0.1:$echo_port" "127.0.0.1:$silent_port" "http://127.0.0.1:$http_port/again"
    stop http || return 1
    stop lines || return 1
    local want
    for want in "http://127.0.0.1:$http_port/ ok .* ms: HTTP/1.1 200 OK" \
        "127.0.0.1:$echo_port ok .* ms: ping" \
        "127.0.0.1:$silent_port error timed out after 1 s \(waiting for the reply\)" \
        "http://127.0.0.1:$http_port/again ok .* ms: HTTP/1.1 200 OK" \
        "4 targets: 3 ok, 1 failed, at most 2 at once"; do
        grep -qE -- "$want" <<<"$out" || {
            fail "no line like \"$want\""
            return 1
        }
    done
    [ "$rc" -eq 1 ] || {
        fail "exit status $rc, expected 1 (one target failed)"
        return 1
    }
}

http_headers_plain() {
    step "5. http_headers against hello_http over plain HTTP"
    start http "$bin/hello_http" --port 0 || return 1
    run "$bin/http_headers" "http://127.0.0.1:$port/"
    stop http || return 1
    if [ "$rc" -ne 0 ] || [ "${out%%$'\n'*}" != "HTTP/1.1 200 OK" ] ||
        ! grep -q '^Content-Length: 14$' <<<"$out"; then
        fail "expected a 200 response with Content-Length: 14"
        return 1
    fi
}

make_cert() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
        -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout key.pem -out cert.pem >/dev/null 2>&1
}

http_headers_tls() {
    step "6. http_headers against hello_http over HTTPS (a throwaway certificate)"
    say "\$ openssl req -x509 ... -subj /CN=localhost   (self-signed, for localhost and 127.0.0.1)"
    make_cert || {
        fail "openssl could not make a certificate"
        return 1
    }
    start https "$bin/hello_http" --tls-cert cert.pem --tls-key key.pem \
        --port 0 || return 1
    local https_port=$port
    run "$bin/http_headers" --cafile cert.pem "https://localhost:$https_port/"
    local trusted_rc=$rc trusted_out=$out
    say "(without --cafile the certificate is not trusted: verification must fail)"
    run "$bin/http_headers" "https://localhost:$https_port/"
    stop https || return 1
    if [ "$trusted_rc" -ne 0 ] || [ "${trusted_out%%$'\n'*}" != "HTTP/1.1 200 OK" ]; then
        fail "expected a 200 response over verified TLS"
        return 1
    fi
    if [ "$rc" -ne 5 ] || ! grep -q "certificate verif" <<<"$out"; then
        fail "expected exit status 5 (TLS) naming the certificate, got $rc"
        return 1
    fi
}

tls_echo() {
    step "7. TLS echo: echo_server --tls-cert, echo_client --tls"
    [ -s cert.pem ] || make_cert || {
        fail "openssl could not make a certificate"
        return 1
    }
    start tls "$bin/echo_server" --tls-cert cert.pem --tls-key key.pem \
        --port 0 || return 1
    run "$bin/echo_client" --tls --cafile cert.pem --port "$port" "secret hello"
    stop tls || return 1
    if [ "$rc" -ne 0 ] || [ "$out" != "secret hello" ]; then
        fail "expected the echo \"secret hello\" over TLS"
        return 1
    fi
}

# ---- main ------------------------------------------------------------------------------

for prog in echo_server echo_client chat_server hello_http http_headers fetch_many; do
    [ -x "$bin/$prog" ] || {
        echo "demo: $bin/$prog is missing: build first (make demo does)" >&2
        exit 1
    }
done
for tool in openssl nc timeout; do
    command -v "$tool" >/dev/null || {
        echo "demo: $tool is not installed (sudo tools/deps.sh build installs it)" >&2
        exit 1
    }
done

echo "cio demo: the examples talk to each other on 127.0.0.1, on ports the kernel picks."
t0=$SECONDS
for s in echo_round_trip readline_echo chat fetch_many_step http_headers_plain \
    http_headers_tls tls_echo; do
    # A step that returns early has reported why with fail(), or has not
    # (a server that would not start): count it either way, once.
    before=$failures
    if "$s" && [ "$failures" -eq "$before" ]; then
        ok
    elif [ "$failures" -eq "$before" ]; then
        fail "see above"
    fi
    # Whatever the step left running or open goes before the next one.
    for fd in "${fds[@]}"; do
        exec {fd}>&-
    done
    fds=()
    for name in "${!pid[@]}"; do
        kill -KILL "${pid[$name]}" 2>/dev/null || true
        wait "${pid[$name]}" 2>/dev/null || true
        unset "pid[$name]"
    done
    rm -f "$tmp"/*.fifo "$tmp"/*.in "$tmp"/*.out "$tmp"/*.log
done

echo
if [ "$failures" -eq 0 ]; then
    echo "demo: all 7 steps ok in $((SECONDS - t0)) s"
else
    echo "demo: $failures of 7 steps FAILED"
    exit 1
fi
