#!/usr/bin/env bash
# Cross-checks certificates with the independent asn1c decoder built from the reference PKIX
# modules: every SGP.26 certificate, and every certificate rsp-pki generates on both curves,
# must decode as `Certificate` and re-encode to the same DER bytes.
# Usage: test_asn1c_certs.sh ASN1C_CHECK RSP_PKI SHARED_DIR
set -euo pipefail
check=$1 pki=$2 shared=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rsp-asn1c-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
n=0 bad=0
run() {
  n=$((n + 1))
  if ! "$check" Certificate - <"$1" >/dev/null 2>"$tmp/err"; then
    echo "FAIL $1: $(cat "$tmp/err")"
    bad=$((bad + 1))
  fi
}
for curve in nist brp; do
  "$pki" create --dir "$tmp/$curve" --curve "$curve" --eid-range 890490320000000000000000000001:3 >/dev/null
  while IFS= read -r f; do run "$f"; done < <(find "$tmp/$curve" -name cert.der | sort)
done
if [[ -d "$shared/sgp26" ]]; then
  while IFS= read -r f; do run "$f"; done < <(find "$shared/sgp26" -name '*.der' | sort)
else
  echo "note: $shared/sgp26 absent, only generated certificates checked"
fi
echo "asn1c Certificate round trip: $((n - bad)) passed, $bad failed"
[[ $bad -eq 0 && $n -gt 0 ]]
