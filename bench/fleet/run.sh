#!/usr/bin/env bash
# Fleet load run: rsp-fleet's devices polling rsp-eim for a while, next to the same fleet polling
# nginx in the same invocation (docs/benchmarks.md, bench/fleet).
#
# Usage: bench/fleet/run.sh BUILD_DIR [devices] [seconds] [baseline-seconds]
#   devices           default 10000
#   seconds           how long the fleet polls rsp-eim once every device is manufactured (600)
#   baseline-seconds  how long the same fleet polls nginx (default 120)
# Environment: RSP_BENCH_POLL (each device's poll interval, default 20 s), RSP_BENCH_THREADS
# (rsp-fleet workers, default 8), RSP_BENCH_EIM_THREADS (rsp-eim event loops, default 2),
# RSP_BENCH_KEEP=1 keeps the work directory.
#
# The eIM run: rsp-pki makes the devices; rsp-eim (SQLite in the work directory) serves them;
# rsp-fleet registers every device through the API and loads its AddInitialEim (manufacture),
# then every device polls ESipa (GetEimPackage over HTTPS keep-alive, the eIM found and trusted
# through the card's eIM configuration). Halfway, one signed listProfileInfo PSMO is queued for
# every device (op bulk), so the run also signs, delivers and records a package per device.
# Reported: errors (failed polls and ESipa exchanges, failed operations: goal 0), ESipa latency
# p50/p90/p99/p99.9 as the devices measured it, the eIM's CPU (user + system over the window, as a
# share of one core and per 1,000 requests) and memory (RSS at the end, peak), the store's size.
# The baseline: the same fleet (manufactured by a second rsp-eim whose cards' eimFqdn would do,
# but rsp-fleet --eim-url sends every poll to nginx), nginx answering the eIM's exact bytes for an
# empty queue with one worker; the same figures, and the eIM/nginx ratios.
# Nothing here gates CI; without nginx the script says so and exits 0.
set -euo pipefail
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
if [[ $# -lt 1 ]]; then
  echo "usage: $0 BUILD_DIR [devices] [seconds] [baseline-seconds]" >&2
  exit 2
fi
build=$1
devices=${2:-10000}
secs=${3:-600}
base_secs=${4:-120}
poll=${RSP_BENCH_POLL:-20}
threads=${RSP_BENCH_THREADS:-8}
eim_threads=${RSP_BENCH_EIM_THREADS:-2}
bin="$build/apps"
for b in cli/rsp-pki eim/rsp-eim eim/rsp-eimctl fleet/rsp-fleet; do
  [[ -x "$bin/$b" ]] || { echo "bench/fleet: $bin/$b not built" >&2; exit 1; }
done
nginx_bin=$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null || true)
if [[ -z "$nginx_bin" ]]; then
  echo "bench/fleet: skipped (nginx not installed; RSP_BENCH_DEPS=1 scripts/deps.sh)"
  exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/rsp-bench-fleet-XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ "${RSP_BENCH_KEEP:-}" == 1 ]]; then echo "bench/fleet: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
fail_port() {
  echo "bench/fleet: nothing listens on 127.0.0.1:$1" >&2
  exit 1
}
hz=$(getconf CLK_TCK)
mem_kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }
fleet_field() { python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): d=d[k]
print(d)' "$1" "$2" 2>/dev/null || echo 0; }

pki="$work/pki"
echo "bench/fleet: $devices devices, poll every $poll s, $secs s on rsp-eim, $base_secs s on nginx"
t0=$(date +%s.%N)
"$bin/cli/rsp-pki" create --dir "$pki" --curve nist \
  --eid-range "890490320000000000000000000001:$devices" --smdp-host localhost \
  --eim-host localhost >/dev/null
printf 'rsp-pki create: %s devices in %.1f s\n' "$devices" \
  "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/api.key"
echo >>"$work/api.key"
ls "$pki/euicc" >"$work/eids"

# start_eim NAME: rsp-eim with its own store; sets esipa, api, eim_pid
start_eim() {
  esipa=$(free_port tcp)
  api=$(free_port tcp)
  "$bin/eim/rsp-eim" serve --pki "$pki" --state "$work/$1.db" --api-key-file "$work/api.key" \
    --listen "127.0.0.1:$esipa" --api-listen "127.0.0.1:$api" --fqdn "localhost:$esipa" \
    --threads "$eim_threads" --log-level warn >"$work/$1.log" 2>&1 &
  eim_pid=$!
  pids+=("$eim_pid")
  wait_port "$esipa" 200 || fail_port "$esipa"
  wait_port "$api" 200 || fail_port "$api"
}

# start_fleet NAME [rsp-fleet options]: sets fleet_pid; waits until every device is manufactured
start_fleet() {
  local name=$1
  shift
  "$bin/fleet/rsp-fleet" --pki "$pki" --eim-api "https://localhost:$api" \
    --api-key-file "$work/api.key" --poll-interval "$poll" --threads "$threads" --progress 0 \
    --log-level info \
    --status "$work/$name.status.json" --json "$@" >"$work/$name.report.json" \
    2>"$work/$name.fleet.log" &
  fleet_pid=$!
  pids+=("$fleet_pid")
  local m=0
  while [[ "$m" != "$devices" ]]; do
    kill -0 "$fleet_pid" 2>/dev/null || { tail "$work/$name.fleet.log" >&2; exit 1; }
    sleep 1
    m=$(fleet_field "$work/$name.status.json" manufactured)
  done
  printf '%s: %s devices manufactured in %.0f s\n' "$name" "$devices" \
    "$(fleet_field "$work/$name.status.json" elapsedSeconds)"
}

# window NAME SERVER_PID SECONDS: measures the server's CPU over the window, then stops the fleet
window() {
  local name=$1 pid=$2 s=$3
  local c0 r0 c1 r1
  c0=$(cpu_ticks "$pid")
  r0=$(fleet_field "$work/$name.status.json" requests.esipa)
  if [[ "$name" == eim ]]; then
    sleep $(( s / 2 ))
    "$bin/eim/rsp-eimctl" --url "https://localhost:$api" --api-key-file "$work/api.key" \
      --ca "$pki/ci/cert.pem" op bulk --eids-file "$work/eids" list-profiles >/dev/null
    sleep $(( s - s / 2 ))
  else
    sleep "$s"
  fi
  c1=$(cpu_ticks "$pid")
  r1=$(fleet_field "$work/$name.status.json" requests.esipa)
  rss=$(mem_kib "$pid" VmRSS)
  hwm=$(mem_kib "$pid" VmHWM)
  kill -TERM "$fleet_pid"
  wait "$fleet_pid" || true
  python3 - "$work/$name.report.json" "$name" "$(( c1 - c0 ))" "$hz" "$s" "$(( r1 - r0 ))" \
    "$rss" "$hwm" >"$work/$name.result" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
name, ticks, hz, secs, reqs, rss, hwm = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), \
    float(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
lat = r["esipaLatencyMs"]
cpu = ticks / hz
out = {"name": name, "requests": reqs, "rate": reqs / secs, "cpuShare": cpu / secs,
       "cpuMsPer1000": 1000.0 * cpu * 1000 / reqs if reqs else 0, "rssMiB": rss / 1024,
       "peakMiB": hwm / 1024, "p50": lat["p50"], "p90": lat["p90"], "p99": lat["p99"],
       "p999": lat["p999"], "pollsFailed": r["polls"]["failed"],
       "esipaFailed": r["requests"]["esipaFailed"], "packages": r["ipa"]["packages"]}
print(json.dumps(out))
EOF
}

# ---- the eIM run ---------------------------------------------------------------------------------
start_eim eim
eim_main=$eim_pid
start_fleet eim
window eim "$eim_main" "$secs"
"$bin/eim/rsp-eimctl" --url "https://localhost:$api" --api-key-file "$work/api.key" \
  --ca "$pki/ci/cert.pem" --json stats >"$work/eim.stats.json"
db_kib=$(du -k "$work/eim.db"* | awk '{ s += $1 } END { print s }')

# ---- the baseline: the same fleet polling nginx ---------------------------------------------------
port=$(free_port tcp)
printf '\xbf\x4f\x03\x02\x01\x01' >"$work/answer.der" # getEimPackageResponse noEimPackageAvailable
{
  cat <<EOF
    ssl_session_cache shared:SSL:10m;
    location = /gsma/rsp2/asn1 {
      default_type application/x-gsma-rsp-asn1;
      add_header X-Admin-Protocol gsma/rsp/v2.1.0;
EOF
  printf '      return 200 "'
  cat "$work/answer.der"
  printf '";\n    }\n'
} | nginx_conf "$work/nginx" "$port" "$pki/eim/tls/cert.pem" "$pki/eim/tls/key.pem"
nginx_launch "$work/nginx"
nginx_pid=$!
pids+=("$nginx_pid")
wait_port "$port" 200 || fail_port "$port"
start_eim base-eim # manufactures the baseline fleet; the polls go to nginx
start_fleet nginx --eim-url "https://localhost:$port/gsma/rsp2/asn1" --eim-ca "$pki/ci/cert.pem"
window nginx "$nginx_pid" "$base_secs"

python3 - "$work/eim.result" "$work/nginx.result" "$work/eim.stats.json" "$db_kib" "$devices" <<'EOF'
import json, sys
e = json.loads(open(sys.argv[1]).read())
n = json.loads(open(sys.argv[2]).read())
st = json.load(open(sys.argv[3]))
db_kib, devices = int(sys.argv[4]), int(sys.argv[5])
ops = st["operations"]
print()
print(f"{'':28} {'rsp-eim':>12} {'nginx':>12} {'eIM/nginx':>10}")
def row(label, k, fmt="{:.2f}", ratio=True):
    a, b = e[k], n[k]
    r = f"{a / b:.2f}x" if ratio and b else "-"
    print(f"{label:28} {fmt.format(a):>12} {fmt.format(b):>12} {r:>10}")
row("polls per second", "rate", "{:.0f}")
row("ESipa latency p50 (ms)", "p50")
row("ESipa latency p90 (ms)", "p90")
row("ESipa latency p99 (ms)", "p99")
row("ESipa latency p99.9 (ms)", "p999")
row("server CPU (share of a core)", "cpuShare")
row("server CPU ms per 1,000 polls", "cpuMsPer1000", "{:.0f}")
row("server RSS at the end (MiB)", "rssMiB", "{:.1f}")
row("server peak RSS (MiB)", "peakMiB", "{:.1f}")
print()
errors = e["pollsFailed"] + e["esipaFailed"] + ops.get("failed", 0) + ops.get("expired", 0)
print(f"errors on rsp-eim: {errors} (failed polls {e['pollsFailed']}, failed ESipa exchanges "
      f"{e['esipaFailed']}, failed operations {ops.get('failed', 0)}); goal 0")
print(f"operations: {ops.get('done', 0)} of {ops.get('total', 0)} done during the run "
      f"(one listProfileInfo PSMO per device, queued halfway)")
print(f"store: {db_kib / 1024:.1f} MiB for {devices} devices ({db_kib * 1024 / devices:.0f} bytes each)")
print(f"errors on nginx: {n['pollsFailed'] + n['esipaFailed']}")
EOF
# what went wrong, if anything: the fleet's and the servers' warnings and errors
for f in "$work/eim.fleet.log" "$work/nginx.fleet.log" "$work/eim.log" "$work/base-eim.log"; do
  n=$(grep -c -E " (warn|error) " "$f" || true)
  if [[ "$n" -gt 0 ]]; then
    echo "$(basename "$f"): $n warnings or errors, the first ones:"
    grep -E " (warn|error) " "$f" | head -n 5 | sed 's/^/  /'
  fi
done
