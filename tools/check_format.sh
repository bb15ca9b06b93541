#!/usr/bin/env bash
# Fails if a library source or public header differs from .clang-format
# (run `make format` to fix).  Tests, benches and examples are not checked:
# their long assertion lines read better as written.
set -u
cd "$(dirname "$0")/.." || exit 1
# Without clang-format the check is skipped (exit 77, which ctest reports
# as skipped), except in CI (CI=true), where it must run.
if ! command -v clang-format >/dev/null; then
    echo "check_format: clang-format is not installed (sudo tools/deps.sh extra installs it)" >&2
    [ "${CI:-}" = true ] && exit 1
    exit 77
fi
files=$(find src include -type f \( -name '*.c' -o -name '*.h' \) | sort)
# shellcheck disable=SC2086
clang-format --dry-run -Werror $files
