#!/bin/sh
# The eIM's benches (issue 7), each with a baseline measured in the same invocation:
#   (a) GetEimPackage polls/s with an empty queue over HTTPS keep-alive against a real
#       `rsp-eim serve` (127.0.0.1), next to nginx answering the same bytes over TLS with the same
#       certificate and key: wrk -t1, one server thread or worker;
#   (b) the same with a new TCP connection and TLS handshake per poll (Connection: close), the
#       client offering its previous session (resumed) or not (full handshake), for both servers;
#   (c) signing and queueing COUNT eUICC packages along rsp-eim's code path (bench_sign), against
#       `openssl speed ecdsap256`'s signing rate;
#   (d) database size and memory per registered device at COUNT devices (bench_devices), against
#       a plain SQLite table of the same columns, and rsp-eim's RSS serving that database.
#
# Usage: bench/eim/run.sh BUILD_DIR [options]
#   --seconds N        length of each HTTPS load and of openssl speed (default 5)
#   --connections N    wrk connections for keep-alive (default 32)
#   --clients N        client threads for the new-connection loads (default 4)
#   --sign-count N     packages signed and queued in (c) (default 1000000)
#   --sign-devices N   devices those packages go to, in rounds (default 1000)
#   --devices N        devices registered in (d) (default 1000000)
#   --fleet N          devices polled in round robin in (a) and (d) (default 50000; above the
#                      polls/s, so that each device is polled less than once a second)
#   --dir DIR          where the SQLite files go (default $TMPDIR or /tmp)
#   --sign-dir DIR     the store of (c) (default /dev/shm when writable, else --dir: (c) measures
#                      the signing path; what a commit costs on the disk is bench_store's subject)
#   --sign-pg URI      (c) on this PostgreSQL database instead (postgresql://..., an empty
#                      database the bench fills; docs/adr/0010)
#   --only LIST        the parts to run, e.g. a,b or c (default a,b,c,d; a and b run together)
#   --quick            a short run: --seconds 2 --sign-count 20000 --devices 20000 --fleet 5000
#
# The HTTPS parts need wrk and nginx (RSP_BENCH_DEPS=1 scripts/deps.sh) and python3; without them
# they say "skipped" and the others still run. The answer rsp-eim gives (checked: 200 and
# getEimPackageResponse noEimPackageAvailable) is what nginx serves, with the same headers, so
# both send the same bytes. rsp-eim runs with --threads 1 and --log-level warn (no access log
# line per request; nginx's access_log is off). A poll reads the device and its queue head in one
# statement; its last_seen is held in memory and written in batches about a second later
# (docs/eim.md), so rsp-eim is measured with one device (registered with rsp-eimctl) and with a
# fleet of --fleet devices polled in round robin (every poll another device, as in a real fleet:
# the batched writes then carry about 16,000 devices a second), the latter also with its state
# file in /dev/shm (no disk flush) when available. The
# ratios divide by nginx's rate under the same wrk script. "cpu" is the server process's user +
# system time per poll, "cli" the client's (bench_esipa), which on a 2-core machine shares the
# CPU with the server. This script builds nothing and never gates CI. RSP_BENCH_KEEP=1 keeps the
# work directory.
set -eu
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

usage() {
  sed -n '/^# Usage:/,/^#$/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

[ $# -ge 1 ] || usage
build=$1
shift
secs=5
conns=32
clients=4
sign_count=1000000
sign_devices=1000
devices=1000000
fleet=50000
dir=${TMPDIR:-/tmp}
sign_dir=""
sign_pg=""
only="a,b,c,d"
while [ $# -gt 0 ]; do
  case $1 in
  --seconds) secs=$2; shift ;;
  --connections) conns=$2; shift ;;
  --clients) clients=$2; shift ;;
  --sign-count) sign_count=$2; shift ;;
  --sign-devices) sign_devices=$2; shift ;;
  --devices) devices=$2; shift ;;
  --fleet) fleet=$2; shift ;;
  --dir) dir=$2; shift ;;
  --sign-dir) sign_dir=$2; shift ;;
  --sign-pg) sign_pg=$2; shift ;;
  --only) only=$2; shift ;;
  --quick) secs=2; sign_count=20000; devices=20000; fleet=5000 ;;
  *) usage ;;
  esac
  shift
done
if [ -z "$sign_dir" ]; then
  sign_dir=$dir
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then sign_dir=/dev/shm; fi
fi
want() { case ",$only," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

bin="$build/bench/eim"
eim_bin="$build/apps/eim/rsp-eim"
ctl_bin="$build/apps/eim/rsp-eimctl"
pki_bin="$build/apps/cli/rsp-pki"
for f in "$bin/bench_esipa" "$bin/bench_sign" "$bin/bench_devices" "$eim_bin" "$ctl_bin" "$pki_bin"; do
  if [ ! -x "$f" ]; then
    echo "bench/eim: $f is not built (cmake --build $build --target bench_esipa bench_sign" \
      "bench_devices rsp-eim rsp-eimctl rsp-pki)" >&2
    exit 2
  fi
done

tmp=$(mktemp -d "$dir/rsp-bench-eim-XXXXXX")
srv_pid=""
scratch="" # work directories outside $tmp (in /dev/shm), removed even on interruption
cleanup() {
  if [ -n "$srv_pid" ]; then kill "$srv_pid" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  for d in $scratch; do rm -rf "$d"; done
  if [ -n "${RSP_BENCH_KEEP:-}" ]; then echo "bench/eim: work directory kept: $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

tck=$(getconf CLK_TCK)
echo "bench/eim: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -srm), $(openssl version | cut -d' ' -f1-2)"

# The PKI: CI, EUM, eIM signing and TLS keys, and eUICCs whose EIDs (c) uses as its devices.
"$pki_bin" create --dir "$tmp/pki" --eid-range "890490320000000000000000000700:$sign_devices" \
  --smdp-host localhost --eim-host localhost >/dev/null
pki="$tmp/pki"
first_eid=$(find "$pki/euicc" -mindepth 1 -maxdepth 1 -type d -exec basename {} \; | sort | head -n 1)
printf 'test-bench-key-0123456789abcdef\n' >"$tmp/keys"

# ---- helpers ---------------------------------------------------------------------------------

have_http_tools() {
  for tool in wrk python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "$tool"; return; }
  done
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { echo nginx; return; }
  echo ""
}



stop_server() {
  if [ -n "$srv_pid" ]; then
    kill "$srv_pid" 2>/dev/null || true
    wait "$srv_pid" 2>/dev/null || true
  fi
  srv_pid=""
}


# start_eim STATE_FILE LOG: rsp-eim on two fresh ports ($port for ESipa, $api_port).
start_eim() {
  port=$(free_port tcp)
  api_port=$(free_port tcp)
  while [ "$api_port" = "$port" ]; do api_port=$(free_port tcp); done
  "$eim_bin" serve --pki "$pki" --state "$1" --listen "127.0.0.1:$port" \
    --api-listen "127.0.0.1:$api_port" --api-key-file "$tmp/keys" --threads 1 \
    --log-level warn 2>>"$2" &
  srv_pid=$!
  wait_port "$port" && wait_port "$api_port"
}

eimctl() {
  "$ctl_bin" --url "https://localhost:$api_port" --ca "$pki/ci/cert.pem" \
    --api-key-file "$tmp/keys" "$@"
}

# wrk output to "rps p50_ms p99_ms requests errors".
parse_wrk() {
  awk '
    function ms(v) {
      if (v ~ /us$/) return v / 1000
      if (v ~ /ms$/) return v + 0
      if (v ~ /s$/) return v * 1000
      return v + 0
    }
    /requests in/ { n = $1 }
    /Requests\/sec:/ { rps = $2 }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    /Non-2xx|Socket errors|unable to connect/ { err = 1 }
    END { printf "%s %.3f %.3f %d %d\n", rps == "" ? 0 : rps, p50, p99, n, err }
  ' "$1"
}

# us of server CPU per poll: cpu_us TICKS POLLS
cpu_us() { awk -v t="$1" -v n="$2" -v hz="$tck" 'BEGIN { printf "%.0f", (n > 0 ? t * 1e6 / hz / n : 0) }'; }

# load_keepalive NAME SCRIPT: wrk on $port; writes "rps p50 p99 err cpu_us" to $tmp/NAME.ka.
load_keepalive() {
  c0=$(cpu_ticks "$srv_pid")
  wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$2" \
    "https://127.0.0.1:$port/gsma/rsp2/asn1" >"$tmp/$1.wrk" 2>&1 || true
  c1=$(cpu_ticks "$srv_pid")
  # shellcheck disable=SC2046 # five numbers
  set -- "$1" $(parse_wrk "$tmp/$1.wrk")
  echo "$2 $3 $4 $6 $(cpu_us $((c1 - c0)) "$5")" >"$tmp/$1.ka"
}

# load_connect NAME reuse|new: new connection per poll; writes "per_s resumed_pct errors cpu_us
# client_cpu_us" to $tmp/NAME.MODE.r.
load_connect() {
  c0=$(cpu_ticks "$srv_pid")
  "$bin/bench_esipa" connect "$port" "$tmp/request.der" "$secs" "$clients" "$2" \
    "$tmp/answer.der" >"$tmp/$1.$2" 2>&1 || true
  c1=$(cpu_ticks "$srv_pid")
  awk -v c="$((c1 - c0))" -v hz="$tck" '/^polls/ {
    printf "%s %.0f %d %.0f %s\n", $6, ($2 > 0 ? 100 * $8 / $2 : 0), $10,
      ($2 > 0 ? c * 1e6 / hz / $2 : 0), $12
  }' "$tmp/$1.$2" >"$tmp/$1.$2.r"
  [ -s "$tmp/$1.$2.r" ] || echo "0 0 1 0 0" >"$tmp/$1.$2.r"
}

# One row of the (a)/(b) table: name, 5 keep-alive fields, 5 resumed, 5 full ("-" when not run).
row() {
  re=$(cat "$tmp/$2.reuse.r" 2>/dev/null || echo - - - - -)
  fu=$(cat "$tmp/$2.new.r" 2>/dev/null || echo - - - - -)
  echo "$1 $(cat "$tmp/$2.ka") $re $fu" >>"$tmp/http.results"
}

start_nginx() {
  port=$(free_port tcp)
  {
    cat <<EOF
    ssl_session_cache shared:SSL:10m;
    ssl_session_tickets on;
    location = /gsma/rsp2/asn1 {
      default_type application/x-gsma-rsp-asn1;
      add_header X-Admin-Protocol gsma/rsp/v2.1.0;
EOF
    # The answer's bytes inline (checked below to hold no character nginx would interpret).
    printf '      return 200 "'
    cat "$tmp/answer.der"
    printf '";\n    }\n'
  } | nginx_conf "$tmp/nginx" "$port" "$pki/eim/tls/cert.pem" "$pki/eim/tls/key.pem"
  nginx_launch "$tmp/nginx"
  srv_pid=$!
  wait_port "$port"
}

# ---- (a) and (b): polls over HTTPS -------------------------------------------------------------

# A fleet of $fleet devices registered in STATE through the operator API's handler
# (bench_devices), with all their EIDs in STATE.eids; made once.
make_fleet() {
  [ -s "$1.eids" ] && return 0
  "$bin/bench_devices" "$pki" "$1" "$fleet" "$1.eids" "$fleet" >/dev/null 2>"$tmp/fleet.err" || {
    cat "$tmp/fleet.err" >&2
    return 1
  }
}

# start_checked_eim NAME STATE REQUEST: rsp-eim on STATE; REQUEST's poll must be answered
# noEimPackageAvailable (its bytes become $tmp/answer.der).
start_checked_eim() {
  if ! start_eim "$2" "$tmp/$1.log"; then
    echo "bench/eim: rsp-eim did not start (see $tmp/$1.log)" >&2
    stop_server
    return 1
  fi
  if [ "$1" = eim ] && ! eimctl device add "$first_eid" --euicc-cert \
    "$pki/euicc/$first_eid/cert.der" --eum-cert "$pki/eum/cert.der" >/dev/null; then
    echo "bench/eim: rsp-eimctl device add failed (see $tmp/$1.log)" >&2
    stop_server
    return 1
  fi
  if ! "$bin/bench_esipa" answer "$port" "$3" "$tmp/answer.der" >"$tmp/answer.txt"; then
    echo "bench/eim: the first poll was not answered noEimPackageAvailable (see $tmp/$1.log)" >&2
    stop_server
    return 1
  fi
}

# The rows of the (a)/(b) table: rsp-eim with one device registered by rsp-eimctl (keep-alive,
# resumed, full), the fleet in round robin (keep-alive; last_seen of every device written), the same
# with the state file in tmpfs, then nginx with both scripts and the two connection loads.
measure_http() {
  start_checked_eim eim "$tmp/eim.db" "$tmp/request.der" || return 1
  load_keepalive eim "$tmp/poll.lua"
  load_connect eim reuse
  load_connect eim new
  stop_server
  row "rsp-eim,1-device" eim
  start_checked_eim eim-fleet "$tmp/fleet.db" "$tmp/fleet-request.der" || return 1
  load_keepalive eim-fleet "$tmp/fleet.lua"
  stop_server
  row "rsp-eim,$fleet-rr" eim-fleet
  if [ -d /dev/shm ] && [ -w /dev/shm ] && [ "$dir" != /dev/shm ]; then
    shm=$(mktemp -d /dev/shm/rsp-bench-eim-XXXXXX)
    scratch="$scratch $shm"
    cp "$tmp/fleet.db" "$shm/fleet.db"
    if start_checked_eim eim-shm "$shm/fleet.db" "$tmp/fleet-request.der"; then
      load_keepalive eim-shm "$tmp/fleet.lua"
      stop_server
      row "rsp-eim,$fleet-rr,tmpfs" eim-shm
    fi
    rm -rf "$shm"
  fi
  if od -An -c "$tmp/answer.der" | grep -q '["\\$;{}]'; then
    echo "bench/eim: the answer has bytes nginx would interpret; nginx skipped" >&2
    return 1
  fi
  if ! start_nginx; then
    echo "bench/eim: nginx did not start (see $tmp/nginx/error.log)" >&2
    stop_server
    return 1
  fi
  load_keepalive nginx "$tmp/poll.lua"
  load_keepalive nginx-fleet "$tmp/fleet.lua"
  load_connect nginx reuse
  load_connect nginx new
  stop_server
  row nginx nginx
  row "nginx,$fleet-rr" nginx-fleet
}

print_http() {
  printf '\nbench/eim (a, b): GetEimPackage, empty queue (request %s bytes, answer %s bytes), %s s per load\n' \
    "$(wc -c <"$tmp/request.der")" "$(wc -c <"$tmp/answer.der")" "$secs"
  printf 'keep-alive: wrk -t1 -c%s; new connection per poll: %s client threads (bench_esipa), %s\n' \
    "$conns" "$clients" "$(sed -n 's/.* tls \([^ ]*\).*/\1/p' "$tmp/eim.reuse" | head -n 1)"
  printf '%-22s %10s %6s %6s %5s %4s | %9s %5s %4s %4s %4s | %8s %5s %4s %4s %4s\n' server \
    "keepalive" "p50ms" "p99ms" ratio "cpu" "resumed/s" ratio "res%" "cpu" "cli" \
    "full/s" ratio "res%" "cpu" "cli"
  # the ratio divides by nginx's rate under the same load (the round-robin rows by nginx's
  # round-robin row), so the client's cost is the same on both sides
  awk '
    { name[NR] = $1; for (i = 2; i <= NF; i++) v[NR, i] = $i; n = NR }
    $1 == "nginx" { ka = $2; re = $7; fu = $12 }
    $1 ~ /^nginx,/ { karr = $2 }
    function r(x, base) { return (x == "-" || base == "" || base == 0) ? "-" : sprintf("%.2f", x / base) }
    END {
      for (k = 1; k <= n; k++) {
        base = name[k] ~ /-rr/ ? karr : ka
        err = (v[k, 5] || v[k, 9] > 0 || v[k, 14] > 0) ? "  (errors)" : ""
        printf "%-22s %10.0f %6.2f %6.2f %5s %4s | %9s %5s %4s %4s %4s | %8s %5s %4s %4s %4s%s\n",
          name[k], v[k, 2], v[k, 3], v[k, 4], r(v[k, 2], base), v[k, 6], v[k, 7], r(v[k, 7], re),
          v[k, 8], v[k, 10], v[k, 11], v[k, 12], r(v[k, 12], fu), v[k, 13], v[k, 15], v[k, 16], err
      }
    }
  ' "$tmp/http.results"
  echo "keepalive: polls/s; ratio: / nginx's rate under the same load (goal for keep-alive: >= 0.5);"
  echo "cpu: the server's CPU us per poll; cli: the client's; res%: handshakes that resumed a session"
}

run_http() {
  missing=$(have_http_tools)
  if [ -n "$missing" ]; then
    echo "bench/eim (a, b): skipped ($missing not installed; RSP_BENCH_DEPS=1 scripts/deps.sh)"
    return 0
  fi
  echo "$first_eid" >"$tmp/eids.txt"
  "$bin/bench_esipa" request "$first_eid" "$tmp/request.der" || return 1
  "$bin/bench_esipa" lua "$tmp/eids.txt" "$tmp/poll.lua" || return 1
  make_fleet "$tmp/fleet.db" || return 1
  "$bin/bench_esipa" request "$(head -n 1 "$tmp/fleet.db.eids")" "$tmp/fleet-request.der" || return 1
  "$bin/bench_esipa" lua "$tmp/fleet.db.eids" "$tmp/fleet.lua" || return 1
  : >"$tmp/http.results"
  measure_http || return 1
  print_http
}

# ---- (c): signing and queueing -----------------------------------------------------------------

run_sign() {
  sign_where=$sign_dir
  [ -z "$sign_pg" ] || sign_where="a PostgreSQL database"
  printf '\nbench/eim (c): signing and queueing %s packages for %s devices (store in %s)\n' \
    "$sign_count" "$sign_devices" "$sign_where"
  sign_tmp=$(mktemp -d "$sign_dir/rsp-bench-eim-sign-XXXXXX") || return 1
  scratch="$scratch $sign_tmp"
  sign_store=${sign_pg:-$sign_tmp}
  "$bin/bench_sign" "$pki" "$sign_store" "$sign_count" "$sign_devices" >"$tmp/sign.txt" || return 1
  rm -rf "$sign_tmp"
  cat "$tmp/sign.txt"
  ossl=$(openssl speed -seconds "$secs" ecdsap256 2>/dev/null |
    awk '/ecdsa \(nistp256\)/ { print $(NF - 1) }')
  awk -v o="$ossl" '
    /^build\+sign only/ { only = $(NF - 3) }
    /^signed and queued/ { q = $4 }
    END {
      printf "%-40s %12.0f /s\n", "openssl speed ecdsap256 sign", o
      if (o > 0) {
        printf "%-40s %12.3f\n", "ratio build+sign only / openssl", only / o
        printf "%-40s %12.3f\n", "ratio signed and queued / openssl", q / o
      }
    }
  ' "$tmp/sign.txt"
}

# ---- (d): size and memory per device -----------------------------------------------------------

# eim_rss_after_polls STATE LUA: rsp-eim serving STATE under wrk with LUA for $secs s; prints
# "rss_kb hwm_kb polls_per_s", or fails.
eim_rss_after_polls() {
  if ! start_eim "$1" "$tmp/eim-rss.log"; then
    stop_server
    echo "bench/eim: rsp-eim did not start on $1 (see $tmp/eim-rss.log)" >&2
    return 1
  fi
  wrk -t1 -c"$conns" -d"${secs}s" -s "$2" "https://127.0.0.1:$port/gsma/rsp2/asn1" \
    >"$tmp/rss.wrk" 2>&1 || true
  echo "$(rss_kb "$srv_pid") $(hwm_kb "$srv_pid") $(parse_wrk "$tmp/rss.wrk" | cut -d' ' -f1)"
  stop_server
}

run_devices() {
  printf '\nbench/eim (d): %s registered devices (database in %s)\n' "$devices" "$dir"
  "$bin/bench_devices" "$pki" "$tmp/devices.db" "$devices" "$tmp/devices-eids.txt" "$fleet" ||
    return 1
  if [ -n "$(have_http_tools)" ]; then
    echo "bench/eim (d): rsp-eim RSS skipped (wrk or python3 not installed)"
    return 0
  fi
  # rsp-eim's memory on that database against the same process on the fleet of (a) (made here
  # when (a) did not run), each after the same load: $fleet devices polled in round robin.
  make_fleet "$tmp/fleet.db" || return 1
  "$bin/bench_esipa" lua "$tmp/fleet.db.eids" "$tmp/fleet.lua" || return 1
  "$bin/bench_esipa" lua "$tmp/devices-eids.txt" "$tmp/devices.lua" || return 1
  small=$(eim_rss_after_polls "$tmp/fleet.db" "$tmp/fleet.lua") || return 1
  big=$(eim_rss_after_polls "$tmp/devices.db" "$tmp/devices.lua") || return 1
  # shellcheck disable=SC2086 # three numbers
  set -- $small
  small_rss=$1 small_hwm=$2 small_rate=$3
  # shellcheck disable=SC2086
  set -- $big
  awk -v n="$devices" -v f="$fleet" -v sr="$small_rss" -v sh="$small_hwm" -v srate="$small_rate" \
    -v br="$1" -v bh="$2" -v brate="$3" 'BEGIN {
      printf "%-44s %8d kB RSS (peak %d kB), %.0f polls/s\n", "rsp-eim, " f " devices", sr, sh, srate
      printf "%-44s %8d kB RSS (peak %d kB), %.0f polls/s\n", "rsp-eim, " n " devices", br, bh, brate
      printf "%-44s %12.2f bytes\n", "rsp-eim RSS per device (difference)", \
        (n > f ? (br - sr) * 1024 / (n - f) : 0)
      printf "%-44s %12.2f\n", "ratio polls/s at " n " / at " f " devices", \
        (srate > 0 ? brate / srate : 0)
    }'
}

# The parts run as `run_x || ...`, where sh suspends set -e: each checks its own steps.
failed=""
if want a || want b; then run_http || failed="$failed a,b"; fi
if want c; then run_sign || failed="$failed c"; fi
if want d; then run_devices || failed="$failed d"; fi
if [ -n "$failed" ]; then
  echo "bench/eim: failed:$failed (see above)" >&2
  exit 1
fi
