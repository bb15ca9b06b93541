#!/usr/bin/env bash
# Cross-check the context switch on AArch64, and the ucontext fallback.
#
# Builds the library with aarch64-linux-gnu-gcc (plain gcc, no CMake) and
# runs tests/aarch64_smoke.c under qemu-aarch64, first with the assembly
# switch (src/arch/aarch64.S + src/arch/ctx_make.c), then with the
# ucontext fallback (src/arch/ucontext.c, -DCIO_CONTEXT_UCONTEXT=1).  Then
# builds and runs the same smoke natively with the ucontext fallback.
#
#   tools/cross_aarch64.sh            all four steps
#   CIO_CROSS_OUT=dir                 output directory (default build-aarch64)
#   CIO_CROSS_SOURCES="a.c b.c"       library sources to use instead of
#                                     src/*/*.c (but src/arch)
#
# Needs gcc-aarch64-linux-gnu and qemu-user (Debian packages); installs them
# with apt-get when missing and run as root, else prints the command.
# Library files that need OpenSSL are skipped for the cross build unless
# the arm64 OpenSSL headers are installed (the smoke test does not use
# them).  Exits non-zero if any step fails.
set -u
cd "$(dirname "$0")/.." || exit 1

OUT=${CIO_CROSS_OUT:-build-aarch64}
CROSS_CC=aarch64-linux-gnu-gcc
QEMU=qemu-aarch64
SYSROOT=/usr/aarch64-linux-gnu
CFLAGS=(-O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude -Isrc)
LIBS=(-lpthread -lm)
JOBS=$(nproc 2>/dev/null || echo 2)

log() { printf '%s\n' "$*"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

ensure_tools() {
    local missing=()
    command -v $CROSS_CC >/dev/null || missing+=(gcc-aarch64-linux-gnu)
    command -v $QEMU >/dev/null || missing+=(qemu-user)
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        log "installing ${missing[*]}"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" ||
            return 1
    else
        log "missing tools; install them with:"
        log "  sudo apt-get install ${missing[*]}"
        return 1
    fi
}

library_sources() {
    if [ -n "${CIO_CROSS_SOURCES:-}" ]; then
        # shellcheck disable=SC2086
        printf '%s\n' $CIO_CROSS_SOURCES
    else
        ls src/sys/*.c src/core/*.c src/sync/*.c src/backend/*.c src/net/*.c src/tls/*.c src/stream/*.c
    fi
}

# build <cc> <dir> <context: asm-aarch64|ucontext>: compile the
# library into <dir>/libcio.a and link <dir>/smoke.
build() {
    local cc=$1 dir=$2 context=$3
    local flags=("${CFLAGS[@]}") arch_srcs=()
    case $context in
    asm-aarch64) arch_srcs=(src/arch/ctx_make.c src/arch/aarch64.S) ;;
    ucontext)
        arch_srcs=(src/arch/ucontext.c)
        flags+=(-DCIO_CONTEXT_UCONTEXT=1)
        ;;
    esac
    rm -rf "$dir"
    mkdir -p "$dir/obj"
    local have_ssl=1
    echo '#include <openssl/ssl.h>' | $cc "${flags[@]}" -E -x c - >/dev/null 2>&1 || have_ssl=0
    if [ $have_ssl = 0 ]; then
        # As CMake's -DCIO_TLS=OFF: no TLS layer, nor the stream's TLS files.
        log "  no OpenSSL headers for $cc: building without TLS (CIO_NO_TLS)"
        flags+=(-DCIO_NO_TLS)
    fi
    # Compile in parallel, at most $JOBS at a time.
    local src obj pid objs=() pids=() failed=0
    for src in $(library_sources) "${arch_srcs[@]}"; do
        case $src in
        src/tls/* | src/stream/stream_tls.c | src/stream/tls_info.c)
            [ $have_ssl = 0 ] && continue ;;
        esac
        obj=$dir/obj/$(echo "${src%.*}" | tr / _).o
        $cc "${flags[@]}" -c "$src" -o "$obj" &
        pids+=($!)
        objs+=("$obj")
        if [ ${#pids[@]} -ge "$JOBS" ]; then
            wait "${pids[0]}" || failed=1
            pids=("${pids[@]:1}")
        fi
    done
    for pid in "${pids[@]}"; do
        wait "$pid" || failed=1
    done
    if [ $failed = 1 ]; then
        log "  compile failed (see the errors above)"
        return 1
    fi
    rm -f "$dir/libcio.a"
    ar rcs "$dir/libcio.a" "${objs[@]}" || return 1
    $cc "${flags[@]}" tests/aarch64_smoke.c "$dir/libcio.a" "${LIBS[@]}" -o "$dir/smoke" || return 1
}

# step <name> <command...>: run one step, time it, record the result.
declare -a SUMMARY=()
FAILED=0
step() {
    local name=$1
    shift
    local t0
    t0=$(now)
    log "==== $name"
    if "$@"; then
        SUMMARY+=("PASS  $name ($(elapsed "$t0"))")
    else
        SUMMARY+=("FAIL  $name ($(elapsed "$t0"))")
        FAILED=1
    fi
}

run_qemu() {
    timeout 300 $QEMU -L $SYSROOT "$1"
}

run_native() {
    timeout 300 "$1"
}

main() {
    local t0
    t0=$(now)
    ensure_tools || exit 2
    step "aarch64 asm: build" build $CROSS_CC "$OUT/asm" asm-aarch64
    [ -x "$OUT/asm/smoke" ] && step "aarch64 asm: smoke under qemu" run_qemu "$OUT/asm/smoke"
    step "aarch64 ucontext: build" build $CROSS_CC "$OUT/ucontext" ucontext
    [ -x "$OUT/ucontext/smoke" ] &&
        step "aarch64 ucontext: smoke under qemu" run_qemu "$OUT/ucontext/smoke"
    step "native ucontext: build" build gcc "$OUT/native-ucontext" ucontext
    [ -x "$OUT/native-ucontext/smoke" ] &&
        step "native ucontext: smoke" run_native "$OUT/native-ucontext/smoke"
    log
    printf '%s\n' "${SUMMARY[@]}"
    log "total $(elapsed "$t0")"
    exit $FAILED
}

main "$@"
