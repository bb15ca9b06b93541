#!/usr/bin/env bash
# The Debian packages cio needs, in three tiers (each includes the ones
# before it):
#
#   build  what `make` / `cmake --build` and `make demo` need: a compiler,
#          CMake, the OpenSSL headers; openssl and nc for the demo
#   test   what `make test` needs besides: Criterion, pkg-config, socat,
#          curl, python3
#   extra  tools that `make test` uses when present (and CI always
#          installs): the AArch64 cross compiler and qemu-user,
#          clang-format, wrk, clang (fuzzing), testssl.sh; and what `make bench` needs: gnuplot and the
#          peers cio is compared with (liburing, libuv, libevent, Go, Node,
#          uvloop)
#
# usage: tools/deps.sh [--check|--list] TIER...
#   tools/deps.sh test          install what is missing (as root, with
#                               apt-get); otherwise print the apt-get
#                               command and fail
#   tools/deps.sh --check test  only check: print what is missing and the
#                               command that installs it, exit 1 if any
#   tools/deps.sh --list test   print the packages of the tier, one line
#   tools/deps.sh ci            (used by .ci/run) the test tier plus the
#                               extra tools `make test` runs in CI
# Silent when nothing is missing.  On a system without dpkg it only prints
# the list.
set -euo pipefail

tier_build=(build-essential cmake libssl-dev openssl netcat-openbsd)
tier_test=(pkg-config libcriterion-dev socat curl python3)
tier_ci=(gcc-aarch64-linux-gnu qemu-user clang-format wrk clang libclang-rt-14-dev testssl.sh)
tier_extra=(gnuplot-nox liburing-dev libuv1-dev libevent-dev golang-go nodejs python3-uvloop)

usage() {
    echo "usage: tools/deps.sh [--check|--list] build|test|extra|ci..." >&2
    exit 2
}

mode=install
case ${1:-} in
--check) mode=check; shift ;;
--list) mode=list; shift ;;
esac
[ $# -gt 0 ] || usage

packages=()
for tier in "$@"; do
    case $tier in
    build) packages+=("${tier_build[@]}") ;;
    test) packages+=("${tier_build[@]}" "${tier_test[@]}") ;;
    ci) packages+=("${tier_build[@]}" "${tier_test[@]}" "${tier_ci[@]}") ;;
    extra) packages+=("${tier_build[@]}" "${tier_test[@]}" "${tier_ci[@]}" "${tier_extra[@]}") ;;
    *) usage ;;
    esac
done
# One of each, in order.
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | awk '!seen[$0]++')

if [ $mode = list ]; then
    echo "${packages[*]}"
    exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps: not a Debian system (no dpkg-query); make sure these are installed:" \
        "${packages[*]}" >&2
    exit 0
fi

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    case "$status" in
    ii*) ;;
    *) missing+=("$p") ;;
    esac
done

[ ${#missing[@]} -eq 0 ] && exit 0

if [ $mode = install ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    exit 0
fi

echo "deps: missing packages (tier: $*); install them with:" >&2
echo "    sudo apt-get install -y ${missing[*]}" >&2
echo "or: sudo tools/deps.sh $*" >&2
exit 1
