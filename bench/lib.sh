# Shell helpers shared by the bench/*/run.sh scripts (POSIX sh; sourced, never run).

# free_port [tcp|udp]: a port on 127.0.0.1 that was free a moment ago, below the kernel's
# ephemeral range, so that the load generator's own connections cannot take it first.
free_port() {
  python3 - "${1:-tcp}" <<'PY'
import random, socket, sys
kind = socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
first, last = (10000, lo - 1) if lo > 11000 else (61000, 65535)
for _ in range(500):
    p = random.randint(first, last)
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
PY
}

# wait_port PORT [TENTHS]: until something accepts TCP connections on 127.0.0.1:PORT (default
# 10 s); non-zero after that.
wait_port() {
  _i=0
  until python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 0.2)" \
    2>/dev/null; do
    _i=$((_i + 1))
    [ "$_i" -lt "${2:-100}" ] || return 1
    sleep 0.1
  done
}

# A process's user + system CPU ticks, resident and peak memory (KiB).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

# nginx_conf DIR PORT CERT KEY: DIR/nginx.conf for the baselines: one worker, no access log,
# TLS 1.2+ on 127.0.0.1:PORT with CERT and KEY; the rest of the server block (session cache,
# locations) comes from standard input.
nginx_conf() {
  mkdir -p "$1"
  {
    [ "$(id -u)" -eq 0 ] && echo "user root;"
    cat <<CONF
worker_processes 1;
daemon off;
master_process off;
pid $1/nginx.pid;
error_log $1/error.log error;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $1/body;
  proxy_temp_path $1/proxy;
  fastcgi_temp_path $1/fastcgi;
  uwsgi_temp_path $1/uwsgi;
  scgi_temp_path $1/scgi;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$2 ssl;
    ssl_certificate $3;
    ssl_certificate_key $4;
    ssl_protocols TLSv1.2 TLSv1.3;
CONF
    cat
    printf '  }\n}\n'
  } >"$1/nginx.conf"
}

# nginx_launch DIR: nginx on DIR/nginx.conf in the background; its pid in $!.
nginx_launch() {
  "$(command -v nginx || echo /usr/sbin/nginx)" -e "$1/error.log" -p "$1" -c "$1/nginx.conf" &
}
