#!/usr/bin/env bash
# Fails when docs/api.md is not what tools/gen_api_docs.py generates from
# the current headers (regenerate with `python3 tools/gen_api_docs.py` and
# commit docs/api.md), or when a CIO_EXTERN function has no doc comment.
# Registered with CTest as "api_docs", so `make test` runs it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v python3 >/dev/null 2>&1; then
    echo "api_docs: python3 not found; it is needed to check docs/api.md" \
        "(Debian: apt-get install python3)" >&2
    exit 1
fi
exec python3 tools/gen_api_docs.py --check
