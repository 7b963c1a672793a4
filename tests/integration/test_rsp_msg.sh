#!/usr/bin/env bash
# rsp-msg decodes real traces to JSON, finds the type by tag, and fails clearly on bad input.
set -u
MSG=$1
fail() { echo "FAIL: $*"; exit 1; }
EPR=BF516AA0683023800365494D810203EE8210F92B2FEE35632499E841CB754FDFD9F383011430038301015F37409EB61D189D332FF2DC6FF90A97A9438AB973F04E6FE2F106FA9C7809A36B8A12740E113C583009D3859A3B2EABE6F43409AE46F32CFD34E2D023B2561F9F2311

out=$("$MSG" decode "$EPR") || fail "decode of the notes 3.4 trace"
python3 - "$out" <<'PY' || fail "JSON content"
import json, sys
d = json.loads(sys.argv[1])
assert d["type"] == "EuiccPackageResult", d
s = d["value"]["euiccPackageResultSigned"]["euiccPackageResultDataSigned"]
assert s["eimId"] == "eIM" and s["counterValue"] == 1006 and s["seqNumber"] == 20, s
assert s["euiccResult"] == [{"enableResult": 1}], s
PY

# binary on stdin, explicit type, spaces in hex
echo "$EPR" | xxd -r -p | "$MSG" decode --type EuiccPackageResult - >/dev/null || fail "stdin"
"$MSG" decode "BF4F 03 02 01 01" | grep -q '"eimPackageError":1' || fail "hex with spaces"

# errors: exit 1 for undecodable input, 2 for usage
"$MSG" decode BF4F0302010100 2>/dev/null; [ $? -eq 1 ] || fail "trailing byte must be rejected"
"$MSG" decode --type EuiccPackageRequest "$EPR" 2>err.txt; [ $? -eq 1 ] || fail "wrong type"
grep -q "not a EuiccPackageRequest" err.txt || fail "error names the type"
"$MSG" decode --type NoSuchType "$EPR" 2>/dev/null; [ $? -eq 2 ] || fail "unknown type"
"$MSG" bogus 2>/dev/null; [ $? -eq 2 ] || fail "unknown command"
"$MSG" --help | grep -q "usage: rsp-msg" || fail "help"
[ "$("$MSG" types | wc -l)" -gt 200 ] || fail "types list"
echo "ok rsp-msg"
