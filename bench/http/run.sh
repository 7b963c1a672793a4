#!/bin/sh
# HTTPS server candidates against nginx, measured with wrk in the same invocation on 127.0.0.1.
#
# Usage: bench/http/run.sh BUILD_DIR [seconds] [connections]
#
# Every server answers a POST (256-byte JSON request) with the same 1 kB JSON body over TLS 1.2+
# (OpenSSL, the same certificate and key) with one worker (nginx: worker_processes 1; ours: one
# event loop thread), so on a 2-core machine the server has one core and wrk (one thread) the
# other. Three loads per server, each for `seconds`:
#   keep-alive  requests/s and the p50/p99 latency wrk reports at that load
#   resumed     `Connection: close` on every request: a new TCP connection per request, whose TLS
#               handshake resumes the previous session (wrk offers it): connections/s
#   full        the same with session resumption switched off in the server: full handshakes/s
# The ratio columns divide the candidate's rate by nginx's rate from the same run. This script
# builds nothing and never gates CI; when wrk or nginx is missing it says so and exits 0.
# RSP_BENCH_KEEP=1 keeps the wrk outputs.
set -eu
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

if [ $# -lt 1 ]; then
  echo "usage: $0 BUILD_DIR [seconds] [connections]" >&2
  exit 2
fi
build=$1
secs=${2:-3}
conns=${3:-32}
nginx_bin=$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null || true)

for tool in wrk openssl python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "bench/http: skipped ($tool not installed; RSP_BENCH_DEPS=1 scripts/deps.sh)"
    exit 0
  fi
done
if [ -z "$nginx_bin" ]; then
  echo "bench/http: skipped (nginx not installed; RSP_BENCH_DEPS=1 scripts/deps.sh)"
  exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rsp-bench-http-XXXXXX")
srv_pid=""
cleanup() {
  [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ -n "${RSP_BENCH_KEEP:-}" ]; then echo "bench/http: outputs kept in $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT INT TERM

# The certificate: CERT.DP.TLS of a fresh rsp-pki directory, or a self-signed P-256 one.
pki="$build/apps/cli/rsp-pki"
if [ -x "$pki" ] && "$pki" create --dir "$tmp/pki" >/dev/null 2>&1; then
  cert="$tmp/pki/smdp/tls/cert.pem"
  key="$tmp/pki/smdp/tls/key.pem"
else
  cert="$tmp/cert.pem"
  key="$tmp/key.pem"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=127.0.0.1 -keyout "$key" -out "$cert" >/dev/null 2>&1
fi

# The 1 kB response (the same bytes as bench_common.c) and the wrk request script.
body=$(python3 -c 'h = "{\"padding\":\""; print(h + "x" * (1024 - len(h) - 2) + "\"}", end="")')
req=$(python3 -c 'h = "{\"request\":\""; print(h + "r" * (256 - len(h) - 2) + "\"}", end="")')
cat >"$tmp/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '$req'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Admin-Protocol"] = "gsma/rsp/v2.5.0"
EOF

# start_nginx on|off: nginx with session resumption (cache and tickets) on or off.
start_nginx() {
  port=$(free_port tcp)
  if [ "$1" = on ]; then
    resume="ssl_session_cache shared:SSL:10m; ssl_session_tickets on;"
  else
    resume="ssl_session_cache off; ssl_session_tickets off;"
  fi
  nginx_conf "$tmp/nginx" "$port" "$cert" "$key" <<EOF
    $resume
    location / { default_type application/json; return 200 '$body'; }
EOF
  nginx_launch "$tmp/nginx"
  srv_pid=$!
  wait_port "$port" 50
}

# start_candidate NAME on|off: one of ours; it prints "port N" once it listens.
start_candidate() {
  bin="$build/bench/http/bench_http_$1"
  : >"$tmp/$1.out"
  if [ "$2" = on ]; then
    "$bin" "$cert" "$key" 0 1 >"$tmp/$1.out" 2>>"$tmp/$1.err" &
  else
    RSP_BENCH_NO_RESUME=1 "$bin" "$cert" "$key" 0 1 >"$tmp/$1.out" 2>>"$tmp/$1.err" &
  fi
  srv_pid=$!
  i=0
  while ! grep -q '^port ' "$tmp/$1.out" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  port=$(sed -n 's/^port //p' "$tmp/$1.out")
  [ -n "$port" ] && wait_port "$port"
}

stop_server() {
  kill "$srv_pid" 2>/dev/null || true
  wait "$srv_pid" 2>/dev/null || true
  srv_pid=""
}

# wrk output to "rps p50_ms p99_ms errors".
parse_wrk() {
  awk '
    function ms(v) {
      if (v ~ /us$/) return v / 1000
      if (v ~ /ms$/) return v + 0
      if (v ~ /s$/) return v * 1000
      return v + 0
    }
    /Requests\/sec:/ { rps = $2 }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    /Non-2xx|Socket errors|unable to connect/ { err = 1 }
    END { printf "%s %.3f %.3f %d\n", rps == "" ? 0 : rps, p50, p99, err }
  ' "$1"
}

run_wrk() { # output-file [extra wrk options]
  out=$1
  shift
  wrk -t1 -c"$conns" -d"${secs}s" -s "$tmp/post.lua" "$@" \
    "https://127.0.0.1:$port/gsma/rsp2/es9plus/initiateAuthentication" >"$out" 2>&1 || true
}

# measure NAME START-FUNCTION: the three loads, appended to $tmp/results as one line.
measure() {
  if ! $2 "$1" on; then echo "bench/http: $1 did not start"; stop_server; return; fi
  run_wrk "$tmp/$1.ka" --latency
  run_wrk "$tmp/$1.resumed" -H 'Connection: close'
  stop_server
  # lib/net has no switch for resumption: its full-handshake rate is that of libevent.
  if [ "$1" = rsp_net ]; then
    echo "Requests/sec: 0" >"$tmp/$1.full"
  else
    if ! $2 "$1" off; then echo "bench/http: $1 did not start"; stop_server; return; fi
    run_wrk "$tmp/$1.full" -H 'Connection: close'
    stop_server
  fi
  echo "$1 $(parse_wrk "$tmp/$1.ka") $(parse_wrk "$tmp/$1.resumed") $(parse_wrk "$tmp/$1.full")" \
    >>"$tmp/results"
}

nginx_start() { start_nginx "$2"; }

: >"$tmp/results"
measure nginx nginx_start
if ! grep -q '^nginx [1-9]' "$tmp/results"; then
  echo "bench/http: nginx did not serve (see $tmp/nginx/error.log)" >&2
  exit 1
fi
for name in libevent h2o rsp_net; do
  if [ ! -x "$build/bench/http/bench_http_$name" ]; then
    echo "bench/http: $name skipped (not built: its library is not installed)"
    continue
  fi
  measure "$name" start_candidate
done

printf 'bench/http: %s s per load, %s connections, 1 server thread, wrk -t1\n' "$secs" "$conns"
printf '%-9s %11s %7s %7s %6s %11s %6s %11s %6s\n' server "keepalive/s" "p50 ms" "p99 ms" \
  ratio "resumed/s" ratio "full/s" ratio
awk '
  NR == 1 { ka = $2; re = $6; fu = $10 }
  {
    note = ($5 || $9 || $13) ? "  (wrk reported errors)" : ""
    full = $10 > 0 ? sprintf("%11.0f %6.2f", $10, fu > 0 ? $10 / fu : 0) : sprintf("%11s %6s", "-", "-")
    printf "%-9s %11.0f %7.3f %7.3f %6.2f %11.0f %6.2f %s%s\n", $1, $2, $3, $4, \
      (ka > 0 ? $2 / ka : 0), $6, (re > 0 ? $6 / re : 0), full, note
  }
' "$tmp/results"
