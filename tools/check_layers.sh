#!/usr/bin/env bash
# Fails when a file under src/ includes a header from a layer above its own
# (docs/design.md, "Layers"): dependencies only point down, so there are no
# include cycles between the directories.  Every internal include names
# its directory ("core/loop.h"), which is what makes the rule checkable;
# a bare internal include fails too.  Registered with CTest as "layers".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Bottom to top.
layers=(sys arch backend core sync net tls stream)
rank() {
    local i
    for i in "${!layers[@]}"; do
        [ "${layers[$i]}" = "$1" ] && { echo "$i"; return; }
    done
    echo -1
}

bad=0
while IFS= read -r -d '' f; do
    dir=${f#src/}
    dir=${dir%%/*}
    own=$(rank "$dir")
    if [ "$own" -lt 0 ]; then
        echo "layers: $f is in src/$dir, which is no layer (${layers[*]})"
        bad=1
        continue
    fi
    while IFS= read -r inc; do
        case $inc in
        cio.h | cio/*) continue ;; # the public headers
        */*) ;;
        *)
            echo "layers: $f includes \"$inc\": name the layer (\"$dir/$inc\")"
            bad=1
            continue
            ;;
        esac
        to=$(rank "${inc%%/*}")
        if [ "$to" -lt 0 ] || [ "$to" -gt "$own" ]; then
            echo "layers: $f ($dir) includes \"$inc\" from a layer above it"
            bad=1
        fi
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
done < <(find src -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z)

# The stream layer reaches transports through their operations only.
if grep -rn 'transport_plain\b\|tp *[!=]= *&' src/stream src/net >/dev/null; then
    grep -rn 'transport_plain\b\|tp *[!=]= *&' src/stream src/net
    echo "layers: compare no transport's address: call its operations"
    bad=1
fi
exit $bad
