#!/usr/bin/env bash
# `make demo`: the most complete openrsp scenario available today.
#
# The end-to-end fleet scenario (rsp-eim, rsp-smdp, rsp-fleet with 1,000 devices) arrives with the
# fleet issue. Until then this runs the foundation: it creates a complete test PKI on both curves
# for a batch of devices, verifies every certificate chain with the RSP rules, imports the GSMA
# SGP.26 test PKI when ../shared is present, and shows the RSP checks rejecting the SGP.26 invalid
# certificates. Usage: scripts/demo.sh [BUILD_DIR]
set -euo pipefail
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
cd "$(dirname "$0")/.."
build=${1:-build}
pki_bin="$build/apps/cli/rsp-pki"
devices=${RSP_DEMO_DEVICES:-100}
[[ -x "$pki_bin" ]] || { echo "demo: $pki_bin not built (run make demo)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/openrsp-demo-XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$(date +%s.%N)

say() { printf '\n== %s\n' "$*"; }
say "openrsp demo: foundation scenario (the fleet demo is not built yet; this is what exists)"
echo "work directory: $work"

# The first EID body (30 digits) of the batch in EIN 89049032; rsp-pki adds the check digits.
first_eid=890490320000000000000000000001
for curve in nist brp; do
  say "rsp-pki create: CI, EUM, $devices eUICCs, SM-DP+ auth/pb/TLS, eIM sign/TLS on curve $curve"
  t0=$(date +%s.%N)
  "$pki_bin" create --dir "$work/pki-$curve" --curve "$curve" \
    --eid-range "$first_eid:$devices" --smdp-host localhost --eim-host localhost >/dev/null
  t1=$(date +%s.%N)
  printf 'created %s certificates in %s s\n' \
    "$(find "$work/pki-$curve" -name cert.der | wc -l)" "$(elapsed "$t0" "$t1")"
  say "rsp-pki verify: every chain of the $curve PKI with the RSP rules"
  "$pki_bin" verify --dir "$work/pki-$curve" | tail -n 3
done

shared=${RSP_SHARED:-../shared}
if [[ -d "$shared/sgp26" ]]; then
  say "rsp-pki import-sgp26: the GSMA SGP.26 test PKI, plus 10 more eUICCs under its EUM"
  "$pki_bin" import-sgp26 --from "$shared/sgp26" --dir "$work/pki-sgp26" --curve nist \
    --eid-range 89049032123451234512345678901235:10 >/dev/null
  "$pki_bin" verify --dir "$work/pki-sgp26" | tail -n 3
  say "SGP.26 invalid test certificates, checked against the SGP.26 CI and EUM"
  "$pki_bin" check --dir "$work/pki-sgp26" --eid 89049032123451234512345678901235 \
    "$shared"/sgp26/InvalidTestCases/*.der || true
else
  say "SGP.26 import skipped: $shared/sgp26 not found (set RSP_SHARED)"
fi

end=$(date +%s.%N)
say "summary"
printf '%-28s %s\n' "devices per PKI" "$devices" "curves" "NIST P-256, brainpoolP256r1" \
  "elapsed" "$(elapsed "$start" "$end") s"
echo "next: the message layer, rsp-euicc, rsp-smdp, rsp-ipad, rsp-eim, then the fleet demo"
