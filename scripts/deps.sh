#!/usr/bin/env bash
# Installs the Debian packages openrsp needs to build, test and run. Idempotent and quiet when
# everything is present; run as root (or with sudo available). Usage: scripts/deps.sh [--list]
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config   # toolchain
  clang libclang-rt-14-dev                       # sanitizer build and libFuzzer
  openssl libssl-dev                             # crypto and TLS (OpenSSL 3)
  libjansson-dev                                 # JSON (ES9+/ES2+ bindings, manifests)
  libsqlite3-dev sqlite3                         # embedded store (card state, eIM, SM-DP+)
  libpcsclite-dev pcscd vsmartcard-vpcd          # PC/SC: the software eUICC as a real card
  python3 python3-yaml xxd                       # test scripts (python3-yaml: the OpenAPI check)
  asn1c                                          # test-only independent ASN.1 decoder
  clang-format git                               # style check
  libevent-dev libcurl4-openssl-dev              # lib/net: HTTPS server (evhttp) and client
  libinih-dev                                    # rsp-ipad: INI config file
  libcoap3-dev                                   # lib/net: ESipa over CoAP/DTLS (docs/adr/0009)
  libpq-dev postgresql                           # eIM store on PostgreSQL (docs/adr/0010); server for its tests
)
# Benchmarks only (bench/http, docs/adr/0005; bench/coap, docs/adr/0009): load generator, nginx
# baseline, the other HTTP library candidates, libcoap's own coap-server as the CoAP baseline.
# Installed on request: RSP_BENCH_DEPS=1 scripts/deps.sh
if [[ "${RSP_BENCH_DEPS:-}" == 1 ]]; then
  PACKAGES+=(wrk nginx-light libh2o-evloop-dev libmicrohttpd-dev libcoap3-bin)
fi

if [[ "${1:-}" == "--list" ]]; then
  printf '%s\n' "${PACKAGES[@]}"
  exit 0
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "deps: installing ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists once if they are missing or older than a day.
if [[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]]; then
  $SUDO apt-get update -qq >&2
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || {
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}
