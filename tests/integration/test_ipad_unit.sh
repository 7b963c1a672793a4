#!/usr/bin/env bash
# The systemd unit and the sample config of rsp-ipad: the unit passes `systemd-analyze verify`
# (with ExecStart pointed at the built binary) and rsp-ipad accepts the sample config file (its
# card is replaced by one that fails fast, so only the parsing is judged: exit 1, not 2).
# Usage: test_ipad_unit.sh RSP_IPAD SOURCE_DIR. Skips (77) without systemd-analyze.
set -euo pipefail
IPAD=$1
SRC=$2
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# the sample config parses; a closed port makes the one cycle fail: exit 1 (2 would be usage)
rc=0
"$IPAD" --config "$SRC/contrib/config/rsp-ipad.conf" --card socket:127.0.0.1:1 --once \
  --card-timeout 200 --log-level error 2>"$WORK/err" || rc=$?
[[ $rc -eq 1 ]] || { cat "$WORK/err"; echo "FAIL: sample config: exit $rc, expected 1"; exit 1; }

command -v systemd-analyze >/dev/null || { echo "SKIPPED: systemd-analyze absent"; exit 77; }
sed "s#/usr/local/bin/rsp-ipad#$IPAD#; s#/etc/openrsp/rsp-ipad.conf#$SRC/contrib/config/rsp-ipad.conf#" \
  "$SRC/contrib/systemd/rsp-ipad.service" >"$WORK/rsp-ipad.service"
if ! systemd-analyze verify "$WORK/rsp-ipad.service" >"$WORK/out" 2>&1; then
  cat "$WORK/out"
  echo "FAIL: systemd-analyze verify"
  exit 1
fi
# verify prints warnings without failing for some problems: none is allowed
if grep -v "^$" "$WORK/out" | grep -q .; then
  cat "$WORK/out"
  echo "FAIL: systemd-analyze verify warned"
  exit 1
fi
echo "ok: unit and sample config"
