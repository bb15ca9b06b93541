#!/usr/bin/env bash
# Runs testssl.sh (a Debian package, installed by tools/deps.sh) against
# examples/echo_server over TLS on 127.0.0.1 and fails on any finding rated
# LOW or above.  (testssl.sh 3.0 rates LUCKY13, "potentially vulnerable,
# uses TLS CBC ciphers", as LOW: that is what cio's defaults before the
# intermediate profile got, so "above LOW" would not have caught them.)
# Exit 77 (CTest: skipped) when testssl.sh is not installed.
#
#   run.sh <echo_server binary>
#
# The checks are the ones about cio's TLS configuration: protocols (-p),
# cipher categories (-s), forward secrecy (-f), vulnerabilities (-U,
# LUCKY13 among them) and the server's picks (-P).  Certificate checks
# (-S) are left out: they judge the throwaway certificate made here (no
# OCSP or CRL URI, a short life), not cio.  The certificate is issued by a
# throwaway CA that testssl is told to trust (--add-ca).
set -euo pipefail
server=$1
testssl=$(command -v testssl || command -v testssl.sh || true)
if [ -z "$testssl" ]; then
    echo "testssl.sh is not installed (tools/deps.sh installs it): skipped"
    exit 77
fi

dir=$(mktemp -d /tmp/cio-testssl-XXXXXX)
pid=
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait 2>/dev/null || true # the server and the cat draining it
    fi
    rm -rf "$dir"
}
trap cleanup EXIT
cd "$dir"

ec() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "$@" 2>/dev/null; }
ec -x509 -keyout ca.key -out ca.pem -days 30 -subj "/CN=cio testssl CA"
ec -keyout server.key -out server.csr -subj /CN=localhost
printf '%s\n' subjectAltName=DNS:localhost,IP:127.0.0.1 basicConstraints=critical,CA:FALSE \
    keyUsage=critical,digitalSignature extendedKeyUsage=serverAuth >ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
    -extfile ext -out server.pem 2>/dev/null

# The server's first line is "listening on 127.0.0.1:PORT" (flushed); read
# it as it comes, then keep draining the rest.
exec 3< <(exec "$server" --host 127.0.0.1 --port 0 --tls-cert server.pem --tls-key server.key \
    2>server.err)
pid=$!
line=
read -r -t 30 -u 3 line || true
case $line in
"listening on 127.0.0.1:"*) port=${line##*:} ;;
*)
    echo "echo_server did not start: '$line'"
    cat server.err
    exit 1
    ;;
esac
cat <&3 >server.out &

rc=0
timeout 600 "$testssl" --quiet --color 0 --warnings off --add-ca ca.pem \
    --jsonfile findings.json --severity LOW -p -s -f -U -P "127.0.0.1:$port" >scan.txt 2>&1 || rc=$?
if [ ! -s findings.json ] || [ $rc -ge 124 ]; then
    echo "testssl.sh did not finish (exit $rc):"
    tail -n 30 scan.txt
    exit 1
fi
python3 - findings.json <<'EOF'
import json, sys
findings = json.load(open(sys.argv[1]))
bad = [f for f in findings if f["severity"] in ("LOW", "MEDIUM", "HIGH", "CRITICAL")]
for f in findings:
    print(f'{f["severity"]:8} {f["id"]}: {f["finding"]}')
print(f"testssl.sh: {len(bad)} findings rated LOW or above")
sys.exit(1 if bad else 0)
EOF
