#!/usr/bin/env bash
# Fails if a library source or public header differs from .clang-format
# (run `make format` to fix).  Tests, benches and examples are not checked:
# their long assertion lines read better as written.
set -u
cd "$(dirname "$0")/.." || exit 1
if ! command -v clang-format >/dev/null; then
    echo "check_format: clang-format is not installed (tools/deps.sh installs it)" >&2
    exit 1
fi
files=$(find src include -type f \( -name '*.c' -o -name '*.h' \) | sort)
# shellcheck disable=SC2086
clang-format --dry-run -Werror $files
