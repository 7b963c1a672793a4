#!/usr/bin/env bash
# rsp-ipad over PC/SC: the same test program as test_ipad (a test eIM over HTTPS, a real
# rsp-smdp, rsp-ipad as a process), with the card in a real pcscd: the software eUICC behind
# vsmartcard's vpcd reader of a private pcscd (pcsc_env.sh), reached by rsp-ipad with
# `--card pcsc:"Virtual PCD 00 00"` (RSP_TEST_IPAD_CARD).
#
# Usage: test_ipad_pcsc.sh RSP_PKI RSP_EUICC RSP_SMDP RSP_IPAD TEST_IPAD
# Exit 0 on success, 1 on failure, 77 (skipped) without pcscd, the vpcd driver or unshare.
set -euo pipefail

# shellcheck source=pcsc_env.sh
source "$(dirname "$0")/pcsc_env.sh"

[[ $# -eq 5 ]] || {
  echo "usage: test_ipad_pcsc.sh RSP_PKI RSP_EUICC RSP_SMDP RSP_IPAD TEST_IPAD" >&2
  exit 2
}
for b in "$@"; do [[ -x "$b" ]] || { echo "FAIL: not executable: $b" >&2; exit 1; }; done
pcsc_env_enter "$@"
PKI=$1
EUICC=$2
SMDP=$3
IPAD=$4
TEST=$5
WORK=$PCSC_ENV_WORK

pcsc_env_step "PKI with one eUICC"
"$PKI" create --dir "$WORK/pki" --eid-range 890490320000000000000000000600:1 >/dev/null ||
  pcsc_env_fail "rsp-pki create"

pcsc_env_step "pcscd, and rsp-euicc in '$PCSC_ENV_READER'"
pcsc_env_start_pcscd
"$EUICC" --pki "$WORK/pki" --state "$WORK/card.db" --vpcd "127.0.0.1:$PCSC_ENV_VPCD_PORT" \
  --log-level info >"$WORK/euicc.log" 2>&1 </dev/null &
PCSC_ENV_PIDS+=($!)

pcsc_env_step "rsp-ipad --card pcsc:'$PCSC_ENV_READER' against the test eIM and rsp-smdp"
RSP_TEST_IPAD_CARD="pcsc:$PCSC_ENV_READER" RSP_TEST_IPAD_PKI="$WORK/pki" TMPDIR="$WORK" \
  "$TEST" "$PKI" "$EUICC" "$SMDP" "$IPAD" config_from_card ecos downloads_and_psmos rollback indirect_download \
  result_redelivered >"$WORK/test.log" 2>&1 || { cat "$WORK/test.log" >&2; pcsc_env_fail "test_ipad"; }
sed 's/^/   /' "$WORK/test.log"
grep -q "^ok downloads_and_psmos$" "$WORK/test.log" || pcsc_env_fail "the download case did not run"
echo "ok: rsp-ipad over PC/SC"
