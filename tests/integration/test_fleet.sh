#!/usr/bin/env bash
# rsp-fleet's command line: help, the built-in model, usage errors (exit 2), a broken network
# model named in the error, and a clean failure (exit 1, with the reason) when the eIM's API
# cannot be reached, after trying every device. Usage: test_fleet.sh RSP_FLEET RSP_PKI
set -u
FLEET=$1
PKI_BIN=$2
fail() { echo "FAIL: $*"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/rsp-test-fleet-XXXXXX")
trap 'rm -rf "$work"' EXIT

"$FLEET" --help | grep -q "usage: rsp-fleet" || fail "help"
"$FLEET" --print-model >"$work/model.json" || fail "--print-model"
python3 - "$work/model.json" <<'PY' || fail "the built-in model is JSON with two operators"
import json, sys
m = json.load(open(sys.argv[1]))
assert [o["name"] for o in m["operators"]] == ["A", "B"], m
assert {c["code"] for c in m["countries"]} == {"DE", "FR", "NO"}, m
PY

usage() { # expected message, then the arguments
  local want=$1
  shift
  "$FLEET" "$@" >/dev/null 2>"$work/err"
  local rc=$?
  [ $rc -eq 2 ] || fail "exit $rc (want 2) for: $*"
  grep -q -- "$want" "$work/err" || fail "no '$want' in: $(cat "$work/err")"
}
usage "--pki DIR is required" --eim-api https://localhost:1 --api-key-file /dev/null
usage "are required" --pki "$work"
usage "https:// URL" --pki "$work" --eim-api http://localhost:1 --api-key-file x
usage "--devices wants a number" --pki "$work" --devices 0 --eim-api https://l:1 --api-key-file x
usage "--jitter wants a number" --pki "$work" --jitter 95 --eim-api https://l:1 --api-key-file x
usage "exclude each other" --pki "$work" --devices 2 --eids-file f --eim-api https://l:1 \
  --api-key-file x
usage "unknown option" --bogus
usage "unexpected argument" --pki "$work" extra

"$PKI_BIN" create --dir "$work/pki" --curve nist --eid-range 890490320000000000000000000001:3 \
  --smdp-host localhost --eim-host localhost >/dev/null || fail "rsp-pki create"
echo "test-api-key-0123456789" >"$work/key"

# a broken model: exit 2 and the place of the error
echo '{"countries":[{"code":"DE"}],"operators":[{"name":"A","iccidPrefixes":["89"],"countries":["XX"]}]}' \
  >"$work/bad.json"
usage "operators\[0\].countries\[0\]" --pki "$work/pki" --model "$work/bad.json" \
  --eim-api https://localhost:1 --api-key-file "$work/key"
# more devices than the PKI holds
"$FLEET" --pki "$work/pki" --devices 4 --eim-api https://localhost:1 --api-key-file "$work/key" \
  2>"$work/err" >/dev/null
[ $? -eq 1 ] && grep -q "has 3 eUICCs" "$work/err" || fail "--devices beyond the PKI"

# no eIM listening: every device is tried, the run fails with the reason, the report says so
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$FLEET" --pki "$work/pki" --eim-api "https://localhost:$port" --api-key-file "$work/key" \
  --duration 2 --poll-interval 1 --json >"$work/report.json" 2>"$work/err"
[ $? -eq 1 ] || fail "exit status without an eIM"
grep -q "no device could be manufactured" "$work/err" || fail "reason: $(tail -n 3 "$work/err")"
python3 - "$work/report.json" <<'PY' || fail "report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["devices"] == 3 and r["manufactured"] == 0 and r["manufactureFailures"] >= 3, r
assert r["indirectDevices"] == 1, r  # --indirect 50: odd positions
PY
echo "ok rsp-fleet"
