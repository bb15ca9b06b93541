#!/usr/bin/env bash
# Installs a cio build into a temporary prefix and builds tests/install/hello.c
# against it twice: with pkg-config (shared library) and with a CMake project
# using find_package(cio) (cio::cio_static, plus cio::cio).  Runs every binary.
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

pc=$(find "$prefix" -name cio.pc -path '*/pkgconfig/*' | head -n1)
[ -n "$pc" ] || fail "no cio.pc installed"
pcdir=$(dirname "$pc")
libdir=$(dirname "$pcdir")
[ -e "$libdir/libcio.a" ] || fail "no libcio.a in $libdir"
[ -e "$libdir/libcio.so" ] || fail "no libcio.so in $libdir"
[ -e "$libdir/libcio.so.0" ] || fail "no libcio.so.0 (SONAME) in $libdir"
[ -f "$prefix/include/cio.h" ] || fail "no include/cio.h"
[ -f "$libdir/cmake/cio/cioConfig.cmake" ] || fail "no cioConfig.cmake"

# Only the public headers are installed.
extra_headers=$(cd "$prefix/include" && find . -type f ! -path './cio.h' ! -path './cio/*.h')
[ -z "$extra_headers" ] || fail "unexpected files in include/: $extra_headers"

step "pkg-config (shared library)"
flags=$(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs cio)
echo "pkg-config --cflags --libs cio: $flags"
# shellcheck disable=SC2086 # word splitting of pkg-config output is intended
"$cc" "${extra[@]}" -o "$tmp/hello_pc" "$here/hello.c" $flags
run env LD_LIBRARY_PATH="$libdir" "$tmp/hello_pc"
# ldd's output is captured first: with pipefail, `ldd | grep -q` fails at
# random when grep exits early and ldd dies of SIGPIPE.
deps=$(LD_LIBRARY_PATH=$libdir ldd "$tmp/hello_pc")
grep -q "libcio.so.0 => $libdir/" <<<"$deps" ||
    fail "hello_pc is not linked against the installed libcio.so"
static_libs=$(PKG_CONFIG_PATH=$pcdir pkg-config --static --libs cio)
case " $static_libs " in
*" -lpthread "*) ;;
*) fail "pkg-config --static --libs cio lacks -lpthread: $static_libs" ;;
esac

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
run "$tmp/consumer/hello_shared"

echo "install test passed"
