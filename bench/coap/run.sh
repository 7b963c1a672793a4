#!/bin/sh
# ESipa polls over CoAP/DTLS (docs/adr/0009), with a baseline measured in the same invocation:
# GetEimPackageRequest with nothing queued (answer getEimPackageResponse noEimPackageAvailable,
# checked), DTLS-PSK, POSTed back to back by CLIENTS processes of bench_coap (lib/net's CoAP
# client, one DTLS session each) against
#   - rsp-eim serve --coap-listen (one CoAP thread, one registered device, --log-level warn: no
#     access-log line per request), and
#   - libcoap's own coap-server (coap-server-openssl from libcoap3-bin, PSK) echoing the same
#     POST (-e, on a resource made with a PUT first): the same request bytes, no application work.
# The ratio is rsp-eim's rate over coap-server's. "cpu" is the server's user + system CPU time per
# poll. coap-server answers the request's bytes (the request's size) where rsp-eim answers its
# 6-byte answer: both fit in one datagram.
#
# Usage: bench/coap/run.sh BUILD_DIR [--seconds N] [--clients N]
#   --seconds N   length of each load (default 5)
#   --clients N   client processes (default 4)
#
# Without coap-server-openssl (RSP_BENCH_DEPS=1 scripts/deps.sh installs libcoap3-bin) or
# python3 it says "skipped". It builds nothing and never gates CI. RSP_BENCH_KEEP=1 keeps the
# work directory.
set -eu
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

usage() {
  sed -n '/^# Usage:/,/^#$/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

[ $# -ge 1 ] || usage
build=$1
shift
secs=5
clients=4
while [ $# -gt 0 ]; do
  case $1 in
  --seconds) secs=$2; shift ;;
  --clients) clients=$2; shift ;;
  *) usage ;;
  esac
  shift
done

for tool in coap-server-openssl coap-client-openssl python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "bench/coap: skipped ($tool not installed; RSP_BENCH_DEPS=1 scripts/deps.sh)"
    exit 0
  fi
done
bench="$build/bench/coap/bench_coap"
esipa="$build/bench/eim/bench_esipa"
eim_bin="$build/apps/eim/rsp-eim"
ctl_bin="$build/apps/eim/rsp-eimctl"
pki_bin="$build/apps/cli/rsp-pki"
for f in "$bench" "$esipa" "$eim_bin" "$ctl_bin" "$pki_bin"; do
  if [ ! -x "$f" ]; then
    echo "bench/coap: $f is not built (cmake --build $build --target bench_coap bench_esipa" \
      "rsp-eim rsp-eimctl rsp-pki)" >&2
    exit 2
  fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rsp-bench-coap-XXXXXX")
srv_pid=""
cleanup() {
  if [ -n "$srv_pid" ]; then kill "$srv_pid" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  if [ -n "${RSP_BENCH_KEEP:-}" ]; then echo "bench/coap: work directory kept: $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

tck=$(getconf CLK_TCK)
# coap-server takes the key as text: rsp-eim and bench_coap get the hex of the same bytes.
key_text=openrsp-bench-psk-0001
key=$(printf '%s' "$key_text" | od -An -tx1 | tr -d ' \n')
identity="bench-device"
echo "bench/coap: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -srm), $(openssl version | cut -d' ' -f1-2), libcoap $(pkg-config --modversion libcoap-3-openssl 2>/dev/null || echo '?')"


# wait_coap URL: until one poll is answered (the server may still be starting).
wait_coap() {
  i=0
  until "$bench" once "$1" "$identity" "$key" "$tmp/request.der" "$tmp/answer.der" >"$tmp/once.txt" 2>&1; do
    i=$((i + 1))
    [ $i -lt 50 ] || return 1
    sleep 0.1
  done
}

stop_server() {
  if [ -n "$srv_pid" ]; then
    kill "$srv_pid" 2>/dev/null || true
    wait "$srv_pid" 2>/dev/null || true
  fi
  srv_pid=""
}


# load NAME URL: writes "per_s errors cpu_us" to $tmp/NAME.r
load() {
  c0=$(cpu_ticks "$srv_pid")
  "$bench" poll "$2" "$identity" "$key" "$tmp/request.der" "$secs" "$clients" >"$tmp/$1.txt"
  c1=$(cpu_ticks "$srv_pid")
  awk -v c="$((c1 - c0))" -v hz="$tck" '/^polls/ {
    printf "%s %d %.0f\n", $4, $6, ($2 > 0 ? c * 1e6 / hz / $2 : 0)
  }' "$tmp/$1.txt" >"$tmp/$1.r"
}

# ---- rsp-eim ---------------------------------------------------------------------------------

"$pki_bin" create --dir "$tmp/pki" --eid-range "890490320000000000000000000900:1" \
  --eim-host localhost >/dev/null
pki="$tmp/pki"
eid=$(find "$pki/euicc" -mindepth 1 -maxdepth 1 -type d -exec basename {} \; | head -n 1)
printf 'test-bench-key-0123456789abcdef\n' >"$tmp/keys"
printf '%s %s\n' "$identity" "$key" >"$tmp/psk"
chmod 600 "$tmp/psk"
"$esipa" request "$eid" "$tmp/request.der"
port=$(free_port tcp)
api_port=$(free_port tcp)
coap_port=$(free_port udp)
"$eim_bin" serve --pki "$pki" --state "$tmp/eim.db" --listen "127.0.0.1:$port" \
  --api-listen "127.0.0.1:$api_port" --api-key-file "$tmp/keys" --threads 1 \
  --coap-listen "127.0.0.1:$coap_port" --coap-psk-file "$tmp/psk" --log-level warn \
  2>>"$tmp/eim.log" &
srv_pid=$!
if ! wait_port "$api_port"; then
  echo "bench/coap: rsp-eim did not start (see $tmp/eim.log)" >&2
  exit 1
fi
"$ctl_bin" --url "https://localhost:$api_port" --ca "$pki/ci/cert.pem" --api-key-file "$tmp/keys" \
  device add "$eid" --euicc-cert "$pki/euicc/$eid/cert.der" --eum-cert "$pki/eum/cert.der" >/dev/null
url="coaps://127.0.0.1:$coap_port/gsma/rsp2/asn1"
if ! wait_coap "$url" || [ "$(od -An -tx1 "$tmp/answer.der" | tr -d ' \n')" != bf4f03020101 ]; then
  echo "bench/coap: rsp-eim's first poll was not answered noEimPackageAvailable:" \
    "$(cat "$tmp/once.txt")" >&2
  exit 1
fi
load eim "$url"
stop_server

# ---- libcoap's coap-server ---------------------------------------------------------------------

# coap-server listens for DTLS on its port + 1; -d lets a PUT create the resource, -e echoes.
base=$(free_port udp)
coap-server-openssl -A 127.0.0.1 -p "$base" -k "$key_text" -d 4 -e -v 0 >"$tmp/coap-server.log" 2>&1 &
srv_pid=$!
srv_url="coaps://127.0.0.1:$((base + 1))/gsma/rsp2/asn1"
i=0
until coap-client-openssl -B 2 -u "$identity" -k "$key_text" -m put -f "$tmp/request.der" "$srv_url" \
  >/dev/null 2>&1; do
  i=$((i + 1))
  if [ $i -ge 50 ]; then
    echo "bench/coap: coap-server did not start (see $tmp/coap-server.log)" >&2
    exit 1
  fi
  sleep 0.1
done
if ! wait_coap "$srv_url"; then
  echo "bench/coap: coap-server did not answer the POST: $(cat "$tmp/once.txt")" >&2
  exit 1
fi
load coap-server "$srv_url"
stop_server

# ---- the table ---------------------------------------------------------------------------------

printf '\nbench/coap: GetEimPackage over CoAP/DTLS-PSK, empty queue (request %s bytes), %s client processes, %s s\n' \
  "$(wc -c <"$tmp/request.der")" "$clients" "$secs"
printf '%-24s %10s %7s %6s %7s\n' server "polls/s" ratio cpu errors
# shellcheck disable=SC2046 # three numbers each
awk -v e="$(cat "$tmp/eim.r")" -v b="$(cat "$tmp/coap-server.r")" 'BEGIN {
  split(e, ev, " "); split(b, bv, " ")
  printf "%-24s %10.0f %7.2f %6s %7d\n", "rsp-eim", ev[1], (bv[1] > 0 ? ev[1] / bv[1] : 0), ev[3], ev[2]
  printf "%-24s %10.0f %7.2f %6s %7d\n", "coap-server (libcoap)", bv[1], 1, bv[3], bv[2]
}'
echo "ratio: / coap-server's rate under the same load; cpu: the server's CPU us per poll"
