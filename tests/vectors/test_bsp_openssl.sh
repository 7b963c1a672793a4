#!/usr/bin/env bash
# Independent check of the BPP secure channel (lib/crypto/bsp.c) against the openssl command
# line: the session-key KDF (openssl kdf X963KDF, with ShS from openssl pkeyutl -derive on both
# curves), and a sequence of segments (87 encrypted, 88 MAC-only, 86 at the size limit, then
# ReplaceSessionKeys in both counter modes) built here from openssl enc (AES-128-ECB for the ICV,
# AES-128-CBC without padding) and openssl mac CMAC. bsp_tool must print the same bytes when
# wrapping, and give the plaintext back when unwrapping what openssl built.
# Usage: test_bsp_openssl.sh BSP_TOOL
set -euo pipefail
tool=$1
for cmd in openssl xxd; do
  if ! command -v "$cmd" >/dev/null; then
    echo "skip: $cmd not available"
    exit 77
  fi
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rsp-bsp-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
checks=0 bad=0

hex() { xxd -p | tr -d '\n'; }
unhex() { xxd -r -p; }
lower() { tr -d ':\n' | tr 'A-F' 'a-f'; }
same() { # what ours theirs
  checks=$((checks + 1))
  if [[ "$(lower <<<"$2")" != "$(lower <<<"$3")" ]]; then
    echo "FAIL $1"
    echo "  ours:   $2"
    echo "  openssl: $3"
    bad=$((bad + 1))
  fi
}

# ---- KDF: SharedInfo = 88 || 10 || len(hostId) || hostId || 10 || EID ------------------------
eid=89049032123451234512345678901235
kdf() { # shs hostid
  local si
  si="8810$(printf %02x $((${#2} / 2)))${2}10${eid}"
  openssl kdf -keylen 48 -kdfopt digest:SHA256 -kdfopt "hexsecret:$1" -kdfopt "hexinfo:$si" \
    X963KDF | lower
}
for host_len in 1 8 16; do
  shs=$(openssl rand -hex 32)
  host=$(openssl rand -hex "$host_len")
  same "KDF hostId of $host_len bytes" "$("$tool" derive "$shs" "$host" "$eid")" "$(kdf "$shs" "$host")"
done

# ECDH on both curves: ShS from openssl pkeyutl, our derive-ecdh from either side's view.
for curve in prime256v1 brainpoolP256r1; do
  for side in e d; do
    openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$curve" -out "$tmp/$side.key" 2>/dev/null
    openssl pkey -in "$tmp/$side.key" -pubout -out "$tmp/$side.pub"
  done
  shs=$(openssl pkeyutl -derive -inkey "$tmp/e.key" -peerkey "$tmp/d.pub" | hex)
  host=$(openssl rand -hex 8)
  want=$(kdf "$shs" "$host")
  same "ECDH+KDF $curve (eUICC side)" "$("$tool" derive-ecdh "$tmp/e.key" "$tmp/d.pub" "$host" "$eid")" "$want"
  same "ECDH+KDF $curve (SM-DP+ side)" "$("$tool" derive-ecdh "$tmp/d.key" "$tmp/e.pub" "$host" "$eid")" "$want"
done

# ---- segments ------------------------------------------------------------------------------
key_data=$("$tool" derive "$(openssl rand -hex 32)" "$(openssl rand -hex 8)" "$eid")
ppk_data=$(openssl rand -hex 48)

der_len() {
  if (($1 < 128)); then printf %02x "$1"; elif (($1 < 256)); then printf 81%02x "$1"; else printf 82%04x "$1"; fi
}
# ICV = AES-128-ECB(S-ENC, counter as a 16-byte big-endian block).
icv() { printf %032x "$2" | unhex | openssl enc -aes-128-ecb -nopad -K "$1" | hex; }
pad() {
  local p="${1}80"
  while (((${#p} / 2) % 16)); do p="${p}00"; done
  echo "$p"
}
cmac() {
  printf %s "$2" | unhex >"$tmp/mac.in"
  openssl mac -cipher AES-128-CBC -macopt "hexkey:$1" -in "$tmp/mac.in" CMAC | lower
}
# Channel state of the openssl construction.
set_keys() { mcv=${1:0:32} enc=${1:32:32} mac=${1:64:32}; }
segment() { # tag plaintext: prints the segment, moves mcv and ctr on
  local data head full
  if [[ $1 == 88 ]]; then
    data=$2
  else
    data=$(pad "$2" | unhex | openssl enc -aes-128-cbc -nopad -K "$enc" -iv "$(icv "$enc" "$ctr")" | hex)
  fi
  head="$1$(der_len $((${#data} / 2 + 8)))"
  full=$(cmac "$mac" "$mcv$head$data")
  seg="$head$data${full:0:16}"
  mcv=$full ctr=$((ctr + 1))
}

# 87 (ConfigureISDP-like), 88 of 300 bytes (82 length field), 86 of the largest plaintext
# (1020-byte segment, counter 3 after the MAC-only 88), then ReplaceSessionKeys and two 86.
p1=$(openssl rand -hex 37)
p2=$(openssl rand -hex 300)
p3=$(openssl rand -hex 1007)
p4=$(openssl rand -hex 16)
p5="" # an empty plaintext still carries one block of padding
for mode in restart continue; do
  set_keys "$key_data"
  ctr=1
  segment 87 "$p1"; s1=$seg
  segment 88 "$p2"; s2=$seg
  segment 86 "$p3"; s3=$seg
  same "86 segment at the limit is 1020 bytes" "$((${#s3} / 2))" 1020
  set_keys "$ppk_data"
  [[ $mode == restart ]] && ctr=1
  segment 86 "$p4"; s4=$seg
  segment 86 "$p5"; s5=$seg
  want=$(printf '%s\n' "$s1" "$s2" "$s3" "$s4" "$s5")
  ours=$("$tool" wrap "$key_data" "87:$p1" "88:$p2" "86:$p3" "$mode:$ppk_data" "86:$p4" "86:$p5")
  same "wrap sequence ($mode)" "$ours" "$want"
  ours=$("$tool" unwrap "$key_data" "87:$s1" "88:$s2" "86:$s3" "$mode:$ppk_data" "86:$s4" "86:$s5")
  same "unwrap of the openssl segments ($mode)" "$ours" "$(printf '%s\n' "$p1" "$p2" "$p3" "$p4" "$p5")"
done

# The receiver refuses an openssl segment with a flipped byte, a reordered pair, and the wrong
# counter mode (continue vs restart) on the PPK segments.
flip="${s1:0:10}$(printf %02x $((0x${s1:10:2} ^ 1)))${s1:12}"
checks=$((checks + 3))
if "$tool" unwrap "$key_data" "87:$flip" >/dev/null 2>&1; then echo "FAIL flipped byte accepted"; bad=$((bad + 1)); fi
if "$tool" unwrap "$key_data" "88:$s2" >/dev/null 2>&1; then echo "FAIL reordered segment accepted"; bad=$((bad + 1)); fi
out=$("$tool" unwrap "$key_data" "87:$s1" "88:$s2" "86:$s3" "restart:$ppk_data" "86:$s4" 2>/dev/null || true)
if [[ "$(lower <<<"$out")" == "$(printf '%s%s%s%s' "$p1" "$p2" "$p3" "$p4")" ]]; then
  echo "FAIL counter mode mismatch went unnoticed"
  bad=$((bad + 1))
fi

echo "BSP vs openssl: $((checks - bad)) of $checks checks passed"
[[ $bad -eq 0 ]]
