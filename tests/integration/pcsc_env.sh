# shellcheck shell=bash
# pcsc_env.sh: a private pcscd whose only reader is vsmartcard's vpcd, for the integration tests
# that put the software eUICC (rsp-euicc --vpcd) behind real PC/SC. Sourced by bash scripts
# running with `set -euo pipefail`; it defines functions and variables, and runs nothing itself.
#
# Why namespaces: Debian 12's pcscd 1.9.9 has its socket and pid file hard-coded in /run/pcscd
# (only the client library reads PCSCLITE_CSOCK_NAME), and vpcd listens on every interface. So
# the test re-runs itself inside `unshare -n -m` (with -r when not root): a private network
# namespace (loopback only) and a private mount namespace where /run is a directory of the test.
# Nothing is visible outside, and a pcscd of the host is never met.
#
# The pattern, for a test that runs any PC/SC client (pcsc_client, test_ipa_pcsc, or
# `rsp-ipad --card pcsc:"Virtual PCD 00 00"`) against the software eUICC:
#
#   source "$(dirname "$0")/pcsc_env.sh"
#   pcsc_env_enter "$@"    # exit 77 without pcscd, the vpcd driver, unshare or ip; else re-runs
#                          # this script with the same arguments in the namespaces and returns
#                          # only there: loopback up, a private /run, PCSCLITE_CSOCK_NAME set,
#                          # $PCSC_ENV_WORK a fresh directory, pcsc_env_cleanup the EXIT trap
#   pcsc_env_start_pcscd   # pcscd with the vpcd reader: "$PCSC_ENV_READER" ("Virtual PCD 00 00")
#                          # takes the card connecting to 127.0.0.1:$PCSC_ENV_VPCD_PORT,
#                          # "Virtual PCD 00 01" the one on the next port
#   rsp-euicc --pki "$PCSC_ENV_WORK/pki" --vpcd "127.0.0.1:$PCSC_ENV_VPCD_PORT" \
#     >"$PCSC_ENV_WORK/euicc.log" 2>&1 &
#   PCSC_ENV_PIDS+=($!)    # pcsc_env_cleanup stops these
#   rsp-ipad --card pcsc:"$PCSC_ENV_READER" ...
#
# Functions:
#   pcsc_env_enter ARGS...  as above; call it before anything that needs the namespaces
#   pcsc_env_start_pcscd    starts pcscd (log: $PCSC_ENV_WORK/pcscd.log), waits for its socket
#   pcsc_env_stop_pcscd     stops it (a test of pcscd restarts calls start again)
#   pcsc_env_stop PID       SIGTERM, then waits up to 10 s for the process to end (SIGKILL after);
#                           works for processes that are not children of this shell
#   pcsc_env_cleanup        stops $PCSC_ENV_PIDS and pcscd, removes $PCSC_ENV_WORK; a script
#                           that needs more cleanup sets its own EXIT trap ending with this
#   pcsc_env_fail MSG       prints MSG and the last lines of every $PCSC_ENV_WORK/*.log, exit 1
#   pcsc_env_skip MSG       prints SKIPPED: MSG, exit 77 (ctest's SKIP_RETURN_CODE)
#   pcsc_env_step MSG       prints a step heading
# Settings (environment, before pcsc_env_enter): VPCD_DRIVER, the vpcd ifd handler;
# PCSC_ENV_VPCD_PORT, the port of the first vpcd reader (any: the namespace is private).

VPCD_DRIVER=${VPCD_DRIVER:-/usr/lib/pcsc/drivers/serial/libifdvpcd.so}
PCSC_ENV_VPCD_PORT=${PCSC_ENV_VPCD_PORT:-40000}
# shellcheck disable=SC2034 # for the scripts that source this file
PCSC_ENV_READER="Virtual PCD 00 00"
PCSC_ENV_WORK=
PCSC_ENV_PCSCD_PID=
PCSC_ENV_PIDS=()

pcsc_env_skip() {
  echo "SKIPPED: $*"
  exit 77
}

pcsc_env_step() { echo "== $*"; }

pcsc_env_fail() {
  local f
  echo "FAIL: $*" >&2
  for f in "${PCSC_ENV_WORK:-/nonexistent}"/*.log; do
    [[ -f "$f" ]] || continue
    echo "---- last lines of $f" >&2
    tail -n 40 "$f" >&2
  done
  exit 1
}

# True while PID runs; a zombie does not count (its sockets are closed already, and a process
# started by another shell may never be reaped by this one).
pcsc_env_alive() {
  local st
  st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  st=${st##*) }
  [[ -n "$st" && "${st%% *}" != Z ]]
}

pcsc_env_stop() {
  local pid=$1 i
  [[ -n "$pid" ]] || return 0
  kill "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    pcsc_env_alive "$pid" || break
    sleep 0.1
  done
  if pcsc_env_alive "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}

pcsc_env_enter() {
  if [[ "${PCSC_ENV_INSIDE:-}" != "$$" ]]; then
    command -v pcscd >/dev/null || PATH="$PATH:/usr/sbin:/sbin"
    command -v pcscd >/dev/null || pcsc_env_skip "pcscd is not installed (Debian package pcscd)"
    [[ -e "$VPCD_DRIVER" ]] ||
      pcsc_env_skip "vpcd driver $VPCD_DRIVER absent (Debian package vsmartcard-vpcd)"
    command -v unshare >/dev/null || pcsc_env_skip "unshare (util-linux) is not available"
    command -v ip >/dev/null || pcsc_env_skip "ip (iproute2) is not available to bring up loopback"
    local ns=(unshare -n -m)
    [[ $(id -u) -eq 0 ]] || ns=(unshare -r -n -m)
    "${ns[@]}" true 2>/dev/null ||
      pcsc_env_skip "cannot create private network and mount namespaces (${ns[*]})"
    # unshare without --fork execs in this very process, so the same pid marks "inside" (a
    # value inherited from elsewhere never matches).
    export PCSC_ENV_INSIDE=$$
    exec "${ns[@]}" bash "$0" "$@"
  fi
  ip link set lo up
  # The work directory must not live under /run, which the namespace replaces.
  local base=${TMPDIR:-/tmp}
  [[ "$base" == /run* ]] && base=/tmp
  PCSC_ENV_WORK=$(mktemp -d "$base/$(basename "$0" .sh).XXXXXX")
  trap pcsc_env_cleanup EXIT
  mkdir -p "$PCSC_ENV_WORK/run"
  mount --bind "$PCSC_ENV_WORK/run" /run
  export PCSCLITE_CSOCK_NAME=/run/pcscd/pcscd.comm
  # vpcd reads DEVICENAME as HOST:PORT; the host /dev/null means "listen" (server mode) on PORT
  # for its first reader and PORT+1 for the second. (Dial-out mode with a real host crashes
  # Debian 12's pcscd.) CHANNELID is only used when DEVICENAME has no port.
  cat >"$PCSC_ENV_WORK/reader.conf" <<EOF
FRIENDLYNAME "Virtual PCD"
DEVICENAME   /dev/null:$PCSC_ENV_VPCD_PORT
LIBPATH      $VPCD_DRIVER
CHANNELID    $PCSC_ENV_VPCD_PORT
EOF
}

pcsc_env_start_pcscd() {
  local i
  pcscd --foreground --config "$PCSC_ENV_WORK/reader.conf" --info \
    >>"$PCSC_ENV_WORK/pcscd.log" 2>&1 &
  PCSC_ENV_PCSCD_PID=$!
  for ((i = 0; i < 100; i++)); do
    [[ -S /run/pcscd/pcscd.comm ]] && return 0
    kill -0 "$PCSC_ENV_PCSCD_PID" 2>/dev/null || pcsc_env_fail "pcscd exited"
    sleep 0.1
  done
  pcsc_env_fail "pcscd did not create its socket"
}

pcsc_env_stop_pcscd() {
  pcsc_env_stop "$PCSC_ENV_PCSCD_PID"
  PCSC_ENV_PCSCD_PID=
}

pcsc_env_cleanup() {
  local pid
  for pid in "${PCSC_ENV_PIDS[@]}"; do pcsc_env_stop "$pid"; done
  pcsc_env_stop_pcscd
  if [[ -n "$PCSC_ENV_WORK" ]]; then rm -rf "$PCSC_ENV_WORK"; fi
}
