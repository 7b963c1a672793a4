#!/usr/bin/env bash
# Integration test of rsp-euicc behind a real pcscd: two software eUICCs connect to the vpcd
# driver (vsmartcard-vpcd) of a private pcscd, and pcsc_client talks to them through libpcsclite
# as any LPA would: T=0 and T=1, logical channels, SELECT variants, ES10 requests split into
# STORE DATA blocks of 255, 120 and 7 bytes, GET RESPONSE chains, and malformed requests. Then
# pcscd is restarted (rsp-euicc must reconnect), the raw --listen socket is exercised, two
# complete profile downloads run through PC/SC against the SM-DP+ logic inside pcsc_client (T=0
# with blocks of 255, T=1 with blocks of 120), a third with an ICCID already on the card must be
# refused (PIR errorReason 9), and rsp-euicc must exit 0 on SIGTERM.
#
# Isolation: pcsc_env.sh (beside this script) runs the test in private network and mount
# namespaces with a pcscd of its own whose only reader is vpcd.
#
# Usage: test_euicc_pcsc.sh RSP_EUICC RSP_PKI PCSC_CLIENT
# Exit 0 on success, 1 on failure, 77 (skipped) when pcscd, the vpcd driver or unshare is
# unavailable.
set -euo pipefail

LISTEN_PORT=41000

[[ $# -eq 3 ]] || { echo "usage: test_euicc_pcsc.sh RSP_EUICC RSP_PKI PCSC_CLIENT" >&2; exit 2; }
for b in "$@"; do [[ -x "$b" ]] || { echo "FAIL: not executable: $b" >&2; exit 1; }; done
# shellcheck source=pcsc_env.sh
source "$(dirname "$0")/pcsc_env.sh"
pcsc_env_enter "$@"
EUICC=$1
PKI=$2
CLIENT=$3
WORK=$PCSC_ENV_WORK
VPCD_PORT=$PCSC_ENV_VPCD_PORT # vpcd's second reader uses the next port
EUICC_PID=

fail() { pcsc_env_fail "$@"; }
step() { pcsc_env_step "$@"; }

# ---- a PKI with two cards -----------------------------------------------------------------------
step "PKI"
"$PKI" create --dir "$WORK/pki" --eid-range 890490320000000000000000000100:2 >/dev/null ||
  fail "rsp-pki create"
mapfile -t EIDS < <(ls "$WORK/pki/euicc" | sort)
[[ ${#EIDS[@]} -eq 2 ]] || fail "expected two eUICCs, got ${EIDS[*]}"

step "pcscd"
pcsc_env_start_pcscd

step "rsp-euicc"
"$EUICC" --pki "$WORK/pki" --state "$WORK/state.db" --vpcd "127.0.0.1:$VPCD_PORT" \
  --listen "$LISTEN_PORT" --log-level debug >"$WORK/euicc.log" 2>&1 &
EUICC_PID=$!
PCSC_ENV_PIDS+=("$EUICC_PID")

# client ARGS...: runs pcsc_client, keeps its stdout in $WORK/out.txt.
client() {
  "$CLIENT" --wait 20 "$@" >"$WORK/out.txt" 2>"$WORK/client.log" ||
    { cat "$WORK/client.log" >&2; fail "pcsc_client $*"; }
}
# client_refused ARGS...: runs pcsc_client, which must exit 1 (a refusal, not a PC/SC failure).
client_refused() {
  local rc=0
  "$CLIENT" --wait 20 "$@" >"$WORK/out.txt" 2>"$WORK/client.log" || rc=$?
  [[ $rc -eq 1 ]] || { cat "$WORK/client.log" >&2; fail "pcsc_client $* exited $rc, expected 1"; }
}
# line N: the N-th response line of the last client run.
line() { sed -n "${1}p" "$WORK/out.txt"; }

GET_EID=BF3E035C015A
GET_INFO2=BF2200
GET_PROFILES=BF2D00
# GetProfilesInfo with a 300-byte tagList: 309 bytes, so several STORE DATA blocks.
BIG_PROFILES="BF2D8201305C82012C$(printf '5A%.0s' $(seq 300))"
MALFORMED=BF3E03AABB           # GetEID whose content is not DER (length runs past the end)
UNKNOWN=BF7E00                 # a tag that names no ES10 function

check_common() {
  local eid=$1
  [[ "$(line 1)" == BF3E125A10"$eid" ]] || fail "GetEID answer $(line 1) does not carry $eid"
  [[ "$(line 2)" == BF22* ]] || fail "GetEUICCInfo2 answer $(line 2)"
  [[ "$(line 3)" == BF2D* ]] || fail "GetProfilesInfo answer $(line 3)"
  [[ "$(line 4)" == BF2D* ]] || fail "GetProfilesInfo (309 bytes) answer $(line 4)"
  [[ "$(line 5)" == "SW 6A80" ]] || fail "malformed request: $(line 5)"
  [[ "$(line 6)" == "SW 6A88" ]] || fail "unknown tag: $(line 6)"
}

step "T=0, card-assigned channel, blocks of 255"
client --reader "Virtual PCD 00 00" --protocol t0 --block 255 \
  $GET_EID $GET_INFO2 $GET_PROFILES "$BIG_PROFILES" $MALFORMED:6A80 $UNKNOWN:6A88
check_common "${EIDS[0]}"
INFO2=$(line 2)

step "T=0, explicit channel 2, blocks of 120, SELECT with Le, GET RESPONSE in class 8X"
client --reader "Virtual PCD 00 00" --protocol t0 --block 120 --channel 2 --select-le \
  --gr-class 80 $GET_EID $GET_INFO2 $GET_PROFILES "$BIG_PROFILES" $MALFORMED:6A80 $UNKNOWN:6A88
check_common "${EIDS[0]}"
[[ "$(line 2)" == "$INFO2" ]] || fail "GetEUICCInfo2 differs between block sizes"

step "T=1, basic channel, blocks of 7, SELECT P2=0C, TERMINAL CAPABILITY, GET RESPONSE by 16"
client --reader "Virtual PCD 00 00" --protocol t1 --block 7 --channel 0 --select-p2 0C \
  --terminal-capability --gr-le 16 \
  $GET_EID $GET_INFO2 $GET_PROFILES "$BIG_PROFILES" $MALFORMED:6A80 $UNKNOWN:6A88
check_common "${EIDS[0]}"
[[ "$(line 2)" == "$INFO2" ]] || fail "GetEUICCInfo2 differs when read in 16-byte pieces"

step "T=1, extended logical channel 5, SELECT P2=04 (FCP), blocks of 255"
client --reader "Virtual PCD 00 00" --protocol t1 --channel 5 --select-p2 04 \
  $GET_EID $GET_INFO2 $GET_PROFILES "$BIG_PROFILES" $MALFORMED:6A80 $UNKNOWN:6A88
check_common "${EIDS[0]}"

step "second card on the second vpcd reader"
client --reader "Virtual PCD 00 01" --protocol t0 $GET_EID
[[ "$(line 1)" == BF3E125A10"${EIDS[1]}" ]] || fail "second reader answered $(line 1)"

step "latency: 25 GetEID in one session (TCP_NODELAY / TCP_QUICKACK)"
reqs=()
for _ in $(seq 25); do reqs+=("$GET_EID"); done
t0=$(date +%s%N)
client --reader "Virtual PCD 00 00" --quiet "${reqs[@]}"
ms=$((($(date +%s%N) - t0) / 1000000))
echo "   25 requests (52 APDUs) in $ms ms"
# With delayed ACKs each APDU costs ~40 ms (about 2 s here); allow slow sanitizer builds.
[[ $ms -lt 1500 ]] || fail "25 GetEID took $ms ms: the ~40 ms per APDU delayed-ACK trap is back"

step "pcscd restart: rsp-euicc reconnects"
pcsc_env_stop_pcscd
sleep 0.5
kill -0 "$EUICC_PID" 2>/dev/null || fail "rsp-euicc died when pcscd went away"
pcsc_env_start_pcscd
client --reader "Virtual PCD 00 00" $GET_EID
[[ "$(line 1)" == BF3E125A10"${EIDS[0]}" ]] || fail "after the pcscd restart: $(line 1)"

step "raw APDU socket (--listen): card 1 on port $((LISTEN_PORT + 1))"
python3 - "$((LISTEN_PORT + 1))" "${EIDS[1]}" <<'EOF' || fail "raw APDU socket"
import socket, struct, sys
port, eid = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
def xfer(payload):
    s.sendall(struct.pack(">H", len(payload)) + payload)
    n = struct.unpack(">H", s.recv(2, socket.MSG_WAITALL))[0]
    return s.recv(n, socket.MSG_WAITALL)
atr = xfer(b"\x04")
assert atr[0] == 0x3B, atr.hex()
t = 0
for b in atr[1:]: t ^= b
assert t == 0, "TCK"
assert xfer(bytes.fromhex("00A404000C")) == bytes.fromhex("6700"), "SELECT length"
assert xfer(bytes.fromhex("00A4040C10A0000005591010FFFFFFFF8900000100")) == b"\x90\x00"
r = xfer(bytes.fromhex("80E2910006BF3E035C015A"))
assert r == bytes.fromhex("6115"), r.hex()
r = xfer(bytes.fromhex("00C0000015"))
assert r.hex().upper() == "BF3E125A10" + eid + "9000", r.hex()
# An extended-length APDU longer than a link takes whole is read past and refused.
big = bytes.fromhex("80E2910000025B") + bytes(603)
assert xfer(big) == bytes.fromhex("6700")
assert xfer(bytes.fromhex("80E2910003BF2D00")) == bytes.fromhex("6105")
s.close()
print("   raw socket ok")
EOF

step "a second session on the raw socket starts powered on afresh"
python3 - "$((LISTEN_PORT + 1))" <<'EOF' || fail "raw APDU socket, second session"
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
apdu = bytes.fromhex("80E2910003BF2D00")
s.sendall(struct.pack(">H", len(apdu)) + apdu)
n = struct.unpack(">H", s.recv(2, socket.MSG_WAITALL))[0]
r = s.recv(n, socket.MSG_WAITALL)
assert r == bytes.fromhex("6985"), r.hex()  # nothing selected after power-on
s.close()
EOF

# ICCID digits as EF.ICCID stores them (and GetProfilesInfo shows them): the two digits of each
# byte swapped, an odd count padded with F.
iccid_hex() {
  local d=$1 out= i
  (( ${#d} % 2 )) && d+=F
  for ((i = 0; i < ${#d}; i += 2)); do out+=${d:i+1:1}${d:i:1}; done
  echo "$out"
}

ICCID_A=89049032000000001231 # 20 digits
ICCID_B=8904903200000000456  # 19 digits: padded with F
ISDP_AIDS=()

# download ICCID CLIENT_ARGS...: one whole download; keeps the ISD-P AID, prints the time taken.
download() {
  local iccid=$1 t0 ms
  shift
  t0=$(date +%s%N)
  client --reader "Virtual PCD 00 00" "$@" download "$WORK/pki" "$iccid"
  ms=$((($(date +%s%N) - t0) / 1000000))
  [[ "$(line 1)" =~ ^ISD-P\ AID\ ([0-9A-F]{10,32})$ ]] || fail "download $iccid printed $(line 1)"
  ISDP_AIDS+=("${BASH_REMATCH[1]}")
  echo "   ISD-P ${BASH_REMATCH[1]}, $(grep -c '^> ' "$WORK/client.log") APDUs in $ms ms"
}

step "profile download over PC/SC, SM-DP+ in-process: T=0, blocks of 255, ICCID $ICCID_A"
download "$ICCID_A" --protocol t0 --block 255

step "profile download over PC/SC, SM-DP+ in-process: T=1, blocks of 120, ICCID $ICCID_B"
download "$ICCID_B" --protocol t1 --block 120
[[ "${ISDP_AIDS[0]}" != "${ISDP_AIDS[1]}" ]] || fail "both profiles got ISD-P ${ISDP_AIDS[0]}"

step "GetProfilesInfo lists both downloaded profiles"
client --reader "Virtual PCD 00 00" $GET_PROFILES
for iccid in "$ICCID_A" "$ICCID_B"; do
  [[ "$(line 1)" == *5A0A"$(iccid_hex "$iccid")"* ]] || fail "ICCID $iccid not in $(line 1)"
done
for aid in "${ISDP_AIDS[@]}"; do
  [[ "$(line 1)" == *"$aid"* ]] || fail "ISD-P $aid not in $(line 1)"
done
PROFILES=$(line 1)

step "the same ICCID again: refused with iccidAlreadyExists"
client_refused --reader "Virtual PCD 00 00" --protocol t0 download "$WORK/pki" "$ICCID_A"
grep -q "ProfileInstallationResult: error at bppCommandId 2 (storeMetadata), errorReason 9 " \
  "$WORK/client.log" || { cat "$WORK/client.log" >&2; fail "no iccidAlreadyExists (9) refusal"; }
grep "^pcsc_client: download" "$WORK/client.log" | sed 's/^/   /'
client --reader "Virtual PCD 00 00" $GET_PROFILES
[[ "$(line 1)" == "$PROFILES" ]] || fail "the refused download changed the profiles: $(line 1)"

step "SIGTERM: clean shutdown"
kill -TERM "$EUICC_PID"
rc=0
wait "$EUICC_PID" || rc=$?
EUICC_PID=
[[ $rc -eq 0 ]] || fail "rsp-euicc exited with $rc after SIGTERM"
grep -q "shutting down" "$WORK/euicc.log" || fail "no shutdown message"
[[ -s "$WORK/state.db" ]] || fail "no state file written"
grep -q "card 0 > 81E2" "$WORK/euicc.log" || fail "APDUs are not logged at debug level"

echo "all rsp-euicc PC/SC checks passed"
