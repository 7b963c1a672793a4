#!/bin/sh
# Runs bench_crypto and `openssl speed` in the same invocation and prints, for ECDSA sign,
# ECDSA verify and ECDH on P-256 and brainpoolP256r1, our rate, OpenSSL's rate and the ratio.
#
# Usage: bench/crypto/run.sh path/to/bench_crypto [seconds]
#
# This script builds nothing. The two sides do not measure quite the same thing: `openssl
# speed` signs a precomputed digest with a context it keeps, while bench_crypto goes through
# the public API as the protocol code does (SHA-256 of a 32-byte message, r||s <-> DER
# conversion, a fresh context per call). The ratio is the cost of that layer, not a verdict on
# absolute speed, and it is never used to gate CI.
set -eu

if [ $# -lt 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 path/to/bench_crypto [seconds]" >&2
  exit 2
fi
bin=$1
secs=${2:-1}
command -v openssl >/dev/null 2>&1 || { echo "$0: openssl not found in PATH" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rsp-bench-crypto-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

"$bin" "$secs" >"$tmp/ours.txt"
openssl speed -seconds "$secs" ecdsap256 ecdsabrp256r1 ecdhp256 ecdhbrp256r1 \
  >"$tmp/openssl.txt" 2>/dev/null

# openssl speed prints, for example,
#    256 bits ecdsa (nistp256)   0.0000s   0.0001s  33503.4  11149.5
#    256 bits ecdh (brainpoolP256r1)   0.0004s   2506.1
# where the last one or two columns are operations per second.
awk '
  function oname(c) { return c == "nist" ? "nistp256" : "brainpoolP256r1" }
  FNR == NR { ours[$1 " " $2] = $3; next }
  /ecdsa \(/ {
    c = $0; sub(/.*ecdsa \(/, "", c); sub(/\).*/, "", c)
    theirs["sign " c] = $(NF - 1); theirs["verify " c] = $NF
  }
  /ecdh \(/ {
    c = $0; sub(/.*ecdh \(/, "", c); sub(/\).*/, "", c)
    theirs["ecdh " c] = $NF
  }
  END {
    printf "%-8s %-16s %12s %12s %8s\n", "op", "curve", "openrsp/s", "openssl/s", "ratio"
    split("nist brp", cs, " "); split("sign verify ecdh", os, " ")
    bad = 0
    for (i = 1; i <= 2; i++) for (j = 1; j <= 3; j++) {
      k = os[j] " " cs[i]; t = theirs[os[j] " " oname(cs[i])]
      if (!(k in ours) || t == "" || t + 0 == 0) {
        printf "%-8s %-16s %12s %12s %8s\n", os[j], oname(cs[i]), \
               (k in ours) ? ours[k] : "?", t == "" ? "?" : t, "n/a"
        bad = 1; continue
      }
      printf "%-8s %-16s %12.1f %12.1f %8.2f\n", os[j], oname(cs[i]), ours[k], t, ours[k] / t
    }
    exit bad
  }
' "$tmp/ours.txt" "$tmp/openssl.txt"
