#!/usr/bin/env bash
# Checks the Debian packages cio needs to build and test.  As root on a
# system with apt-get, installs the missing ones; otherwise prints the
# command to install them and fails.  Silent when nothing is missing.
set -euo pipefail

packages=(build-essential cmake pkg-config libcriterion-dev libssl-dev openssl socat netcat-openbsd python3 clang-format curl wrk gcc-aarch64-linux-gnu qemu-user clang libclang-rt-14-dev testssl.sh)

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

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    exit 0
fi

echo "missing packages; install them with: sudo apt-get install -y ${missing[*]}" >&2
exit 1
