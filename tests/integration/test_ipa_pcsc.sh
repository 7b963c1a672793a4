#!/usr/bin/env bash
# Integration test of the IPA's PC/SC APDU driver (drivers/apdu_pcsc.c) through a real pcscd:
# the software eUICC (rsp-euicc --vpcd, with --state) sits in the vpcd reader of a private pcscd
# (pcsc_env.sh), and test_ipa_pcsc runs ES10 sessions through the driver against "Virtual PCD
# 00 00": T=0 and T=1 with STORE DATA blocks of 255 and 7, a second connect after each
# disconnect, no reader named, a reset by another PC/SC client, reader names that must fail
# (unknown, ambiguous, no card) within the timeout. For its removal case it calls this script
# back (`--card remove`, `--card insert`): rsp-euicc is stopped mid-session (the card leaves
# the reader), and started again on the same state while the driver's next connect waits.
# Last, rsp-euicc's APDU log must show the driver's SELECT of the ISD-R without its Le on T=0
# (case 4 goes as case 3, ISO/IEC 7816-3 §12.2) and with it on T=1.
#
# Usage: test_ipa_pcsc.sh RSP_PKI RSP_EUICC TEST_IPA_PCSC
# Exit 0 on success, 1 on failure, 77 (skipped) when pcscd, the vpcd driver or unshare is
# unavailable.
set -euo pipefail

# shellcheck source=pcsc_env.sh
source "$(dirname "$0")/pcsc_env.sh"

# card remove|insert: takes the software eUICC out of the reader or puts it back. Runs inside the
# namespaces, from this script and from test_ipa_pcsc (RSP_TEST_PCSC_CARD); the started rsp-euicc
# need not be a child of the shell that stops it, hence a pid file.
card() {
  local pidfile=$TEST_IPA_PCSC_WORK/euicc.pid
  case $1 in
  remove)
    [[ -s "$pidfile" ]] || return 0
    pcsc_env_stop "$(cat "$pidfile")"
    rm -f "$pidfile"
    ;;
  insert)
    "$TEST_IPA_PCSC_EUICC" --pki "$TEST_IPA_PCSC_WORK/pki" --state "$TEST_IPA_PCSC_WORK/state.db" \
      --vpcd "127.0.0.1:$PCSC_ENV_VPCD_PORT" --log-level debug \
      >>"$TEST_IPA_PCSC_WORK/euicc.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    ;;
  *)
    echo "card: remove or insert, not '$1'" >&2
    return 2
    ;;
  esac
}

if [[ "${1:-}" == --card ]]; then
  card "${2:-}"
  exit
fi

[[ $# -eq 3 ]] || { echo "usage: test_ipa_pcsc.sh RSP_PKI RSP_EUICC TEST_IPA_PCSC" >&2; exit 2; }
for b in "$@"; do [[ -x "$b" ]] || { echo "FAIL: not executable: $b" >&2; exit 1; }; done
pcsc_env_enter "$@"
PKI=$1
TEST=$3
WORK=$PCSC_ENV_WORK
export TEST_IPA_PCSC_WORK=$WORK TEST_IPA_PCSC_EUICC=$2 PCSC_ENV_VPCD_PORT
trap 'card remove; pcsc_env_cleanup' EXIT

fail() { pcsc_env_fail "$@"; }
step() { pcsc_env_step "$@"; }

step "PKI with one eUICC"
"$PKI" create --dir "$WORK/pki" --eid-range 890490320000000000000000000300:1 >/dev/null ||
  fail "rsp-pki create"

step "pcscd"
pcsc_env_start_pcscd

step "rsp-euicc in '$PCSC_ENV_READER'"
card insert

step "ES10 sessions through the PC/SC driver"
RSP_TEST_PCSC_CARD="bash $(printf '%q' "$0") --card" \
  "$TEST" "$WORK/pki" "$PCSC_ENV_READER" >"$WORK/test.log" 2>&1 ||
  { cat "$WORK/test.log" >&2; fail "test_ipa_pcsc"; }
sed 's/^/   /' "$WORK/test.log"
grep -q "^ok removal$" "$WORK/test.log" || fail "the removal case did not run"
grep -q "removal: .* not run" "$WORK/test.log" && fail "the removal case was not run"

step "the card was taken out and put back: rsp-euicc ran twice on one state"
[[ $(grep -c "connected to vpcd" "$WORK/euicc.log") -ge 2 ]] ||
  fail "rsp-euicc did not connect to vpcd twice"

step "T=0: SELECT without Le; T=1: SELECT with Le"
SELECT_ISDR='0[0-3]A4040010A0000005591010FFFFFFFF8900000100'
grep -Eq "card 0 > ${SELECT_ISDR}\$" "$WORK/euicc.log" || fail "no SELECT without Le (T=0)"
grep -Eq "card 0 > ${SELECT_ISDR}00\$" "$WORK/euicc.log" || fail "no SELECT with Le (T=1)"

echo "all PC/SC driver checks passed"
