#!/usr/bin/env bash
# Installs a cio build into a temporary prefix and builds tests/install/hello.c
# against it: with pkg-config (cio: the shared library, found at run time by
# an rpath; cio-static: libcio.a; cio with --static and cc -static: a fully
# static binary) and with a CMake project using find_package(cio)
# (cio::cio_static and cio::cio).  Runs every binary, with no
# LD_LIBRARY_PATH.
#
# usage: tests/install/run.sh BUILD_DIR
# env:   CC                  compiler (default cc)
#        CIO_INSTALL_CFLAGS  extra compile+link flags (the sanitizer build
#                            passes its -fsanitize flags here)
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cc=${CC:-cc}
read -r -a extra <<<"${CIO_INSTALL_CFLAGS:-}"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cio-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
prefix=$tmp/prefix

step() { echo "== $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
# Runs a built hello; a hung loop fails after 60 s instead of at ctest's timeout.
run() {
    local rc=0
    timeout 60 "$@" || rc=$?
    [ "$rc" -ne 124 ] || fail "$* timed out after 60 s"
    [ "$rc" -eq 0 ] || fail "$* exited with status $rc"
}

step "cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "cmake --install"; }

pcfile=$(find "$prefix" -name cio.pc -path '*/pkgconfig/*' | head -n1)
[ -n "$pcfile" ] || fail "no cio.pc installed"
pcdir=$(dirname "$pcfile")
[ -f "$pcdir/cio-static.pc" ] || fail "no cio-static.pc installed"
libdir=$(dirname "$pcdir")
[ -e "$libdir/libcio.a" ] || fail "no libcio.a in $libdir"
[ -e "$libdir/libcio.so" ] || fail "no libcio.so in $libdir"
[ -e "$libdir/libcio.so.0" ] || fail "no libcio.so.0 (SONAME) in $libdir"
[ -f "$prefix/include/cio.h" ] || fail "no include/cio.h"
[ -f "$libdir/cmake/cio/cioConfig.cmake" ] || fail "no cioConfig.cmake"

# Only the public headers are installed.
extra_headers=$(cd "$prefix/include" && find . -type f ! -path './cio.h' ! -path './cio/*.h')
[ -z "$extra_headers" ] || fail "unexpected files in include/: $extra_headers"

pc() { PKG_CONFIG_PATH=$pcdir pkg-config "$@"; }
# ldd's output is captured first: with pipefail, `ldd | grep -q` fails at
# random when grep exits early and ldd dies of SIGPIPE.
links_installed_so() { # BINARY: is it linked against $libdir/libcio.so.0?
    local deps
    deps=$(ldd "$1")
    grep -q "libcio.so.0 => $libdir/" <<<"$deps"
}

step "pkg-config cio (shared library, rpath from --variable=libdir)"
# OpenSSL is a private requirement, unless the build has no TLS (-DCIO_TLS=OFF,
# which cio.pc's Cflags say with -DCIO_NO_TLS).
want_requires="openssl >= 3"
case " $(pc --cflags cio) " in *" -DCIO_NO_TLS "*) want_requires="" ;; esac
[ "$(pc --print-requires-private cio)" = "$want_requires" ] ||
    fail "cio.pc: Requires.private is '$(pc --print-requires-private cio)', not '$want_requires'"
flags=$(pc --cflags --libs cio)
echo "pkg-config --cflags --libs cio: $flags"
# shellcheck disable=SC2086 # word splitting of pkg-config output is intended
"$cc" "${extra[@]}" -o "$tmp/hello_pc" "$here/hello.c" $flags \
    -Wl,-rpath,"$(pc --variable=libdir cio)"
run "$tmp/hello_pc" # no LD_LIBRARY_PATH: the rpath finds libcio.so
links_installed_so "$tmp/hello_pc" || fail "hello_pc is not linked against the installed libcio.so"

step "pkg-config cio-static (libcio.a, system libraries shared)"
flags=$(pc --cflags --libs cio-static)
echo "pkg-config --cflags --libs cio-static: $flags"
# shellcheck disable=SC2086
"$cc" "${extra[@]}" -o "$tmp/hello_pc_static" "$here/hello.c" $flags
run "$tmp/hello_pc_static"
if grep -q libcio.so <<<"$(ldd "$tmp/hello_pc_static")"; then
    fail "hello_pc_static links libcio.so, expected libcio.a"
fi

# A fully static binary; the sanitizers have no static runtime.
if [ ${#extra[@]} -eq 0 ]; then
    step "pkg-config --static cio with cc -static (a fully static binary)"
    flags=$(pc --static --cflags --libs cio)
    echo "pkg-config --static --cflags --libs cio: $flags"
    # cio's resolver calls getaddrinfo, of which glibc warns in a static link.
    # shellcheck disable=SC2086
    "$cc" -static -o "$tmp/hello_pc_full_static" "$here/hello.c" $flags 2>"$tmp/static.log" ||
        { cat "$tmp/static.log" >&2; fail "cc -static with pkg-config --static cio"; }
    run "$tmp/hello_pc_full_static"
    if ldd "$tmp/hello_pc_full_static" >/dev/null 2>&1; then
        fail "hello_pc_full_static is a dynamic executable"
    fi
fi

step "find_package(cio) (cio::cio_static and cio::cio)"
cmake -S "$here" -B "$tmp/consumer" \
    -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_FLAGS="${CIO_INSTALL_CFLAGS:-}" \
    -DCMAKE_EXE_LINKER_FLAGS="${CIO_INSTALL_CFLAGS:-}" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$tmp/consumer.log" 2>&1 ||
    { cat "$tmp/consumer.log" >&2; fail "configuring the find_package consumer"; }
cmake --build "$tmp/consumer" >>"$tmp/consumer.log" 2>&1 ||
    { cat "$tmp/consumer.log" >&2; fail "building the find_package consumer"; }
run "$tmp/consumer/hello_static"
if grep -q libcio.so <<<"$(ldd "$tmp/consumer/hello_static")"; then
    fail "hello_static links libcio.so, expected libcio.a"
fi
run "$tmp/consumer/hello_shared" # CMake's build rpath finds libcio.so
links_installed_so "$tmp/consumer/hello_shared" ||
    fail "hello_shared is not linked against the installed libcio.so"

echo "install test passed"
