#!/usr/bin/env bash
# `make demo`: an IoT fleet managed end to end on the embedded defaults (docs/fleet.md).
#
# Starts, on 127.0.0.1 only: rsp-smdp (SQLite) with the profiles of two operators, A and B;
# rsp-eim (SQLite); rsp-fleet with N simulated devices (an IPA on its own software eUICC each),
# which registers every device at the eIM with its initial eIM configuration. Then, as the fleet
# owner, through rsp-eimctl (the eIM's operator API) and rsp-smdpctl (the operators' ES2+):
#   1. download operator A's profile to every device (half direct, half indirect through the eIM):
#      A orders a profile for each EID at the SM-DP+ (default SM-DP+ flow), the eIM sets the
#      cards' default SM-DP+ address (PSMO) and triggers the download (contactDefaultSmdp);
#   2. enable it on every device;
#   3. switch half of the fleet to operator B (download, then enable with rollback allowed);
#      B has no coverage in one country of the network model, so the devices there lose the
#      network on B, roll back to A by themselves and report it;
#   4. delete the profiles no device uses any more;
# then prints a final table and stops every process it started.
#
# Usage: scripts/demo.sh [BUILD_DIR]
# Environment: RSP_DEMO_DEVICES (default 1000), RSP_DEMO_POLL (device poll interval, default 5 s),
# RSP_DEMO_KEEP=1 keeps the work directory, RSP_DEMO_JSON=FILE writes the summary as JSON,
# RSP_DEMO_EIM_STATE=URI runs the eIM on that store instead of a SQLite file in the work directory
# (an empty PostgreSQL database: postgresql://USER@HOST:PORT/DB, see docs/eim.md).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
devices=${RSP_DEMO_DEVICES:-1000}
poll=${RSP_DEMO_POLL:-5}
bin="$build/apps"
for b in cli/rsp-pki smdp/rsp-smdp smdp/rsp-smdpctl eim/rsp-eim eim/rsp-eimctl fleet/rsp-fleet; do
  [[ -x "$bin/$b" ]] || { echo "demo: $bin/$b not built (run make demo)" >&2; exit 1; }
done
command -v python3 >/dev/null || { echo "demo: python3 is needed (scripts/deps.sh)" >&2; exit 1; }
if (( devices < 2 || devices > 10000 )); then
  echo "demo: RSP_DEMO_DEVICES must be 2 to 10000" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/openrsp-demo-XXXXXX")
pids=()
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ "${RSP_DEMO_KEEP:-}" == 1 || $rc -ne 0 ]]; then
    echo "demo: work directory kept: $work (logs: *.log)" >&2
  else
    rm -rf "$work"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
say() { printf '\n== %s\n' "$*"; }
fail() {
  echo "demo: $*" >&2
  for l in "$work"/*.log; do echo "--- tail of $l" >&2; tail -n 15 "$l" >&2 || true; done
  exit 1
}
# A free port below the kernel's ephemeral range (outgoing connections cannot take it first).
free_port() {
  python3 - <<'PY'
import random, socket
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
first, last = (10000, lo - 1) if lo > 11000 else (61000, 65535)
for _ in range(500):
    p = random.randint(first, last)
    s = socket.socket()
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
wait_port() {
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  fail "nothing listens on 127.0.0.1:$1"
}

start=$(now)
es9=$(free_port); es2=$(free_port); esipa=$(free_port); api=$(free_port)
pki="$work/pki"
smdp_addr="localhost:$es9"
half=$(( (devices + 1) / 2 ))
say "openrsp demo: $devices devices, operators A and B, on 127.0.0.1 (work directory $work)"

say "PKI: CI, EUM, $devices eUICCs, SM-DP+ and eIM certificates (rsp-pki create)"
"$bin/cli/rsp-pki" create --dir "$pki" --curve nist \
  --eid-range "890490320000000000000000000001:$devices" --smdp-host localhost \
  --eim-host localhost >/dev/null
ls "$pki/euicc" | sort >"$work/eids.all"
# the half of the fleet that switches to B: devices 0, 1, 4, 5, 8, 9 ... (rsp-fleet makes odd
# positions indirect, so half of the switching devices download directly, half through the eIM)
awk 'NR % 4 == 1 || NR % 4 == 2' "$work/eids.all" >"$work/eids.switch"
switching=$(wc -l <"$work/eids.switch")
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/api.key"
echo >>"$work/api.key"

say "rsp-smdp: profiles of operator A ($devices) and operator B ($half), ES9+ :$es9, ES2+ :$es2"
"$bin/smdp/rsp-smdp" serve --pki "$pki" --state "$work/smdp.db" --listen "127.0.0.1:$es9" \
  --es2-listen "127.0.0.1:$es2" --address "$smdp_addr" --threads 2 \
  --batch "$devices:898824700000000000:001010000000000:operator-a:Operator A" \
  --batch "$half:898824710000000000:001020000000000:operator-b:Operator B" \
  >"$work/smdp.log" 2>&1 &
pids+=($!)
eim_state=${RSP_DEMO_EIM_STATE:-$work/eim.db}
case $eim_state in
postgres://* | postgresql://* | pg:*) store="PostgreSQL store" ;;
*) store="SQLite store" ;;
esac
say "rsp-eim: ESipa :$esipa, operator API :$api, $store"
"$bin/eim/rsp-eim" serve --pki "$pki" --state "$eim_state" --api-key-file "$work/api.key" \
  --listen "127.0.0.1:$esipa" --api-listen "127.0.0.1:$api" --fqdn "localhost:$esipa" \
  --threads 2 >"$work/eim.log" 2>&1 &
pids+=($!)
wait_port "$es9"; wait_port "$es2"; wait_port "$esipa"; wait_port "$api"

eimctl() {
  "$bin/eim/rsp-eimctl" --url "https://localhost:$api" --api-key-file "$work/api.key" \
    --ca "$pki/ci/cert.pem" "$@"
}
smdpctl() {
  "$bin/smdp/rsp-smdpctl" --url "https://localhost:$es2" --cert "$pki/eim/tls/cert.pem" \
    --key "$pki/eim/tls/key.pem" --ca "$pki/ci/cert.pem" "$@"
}

say "rsp-fleet: $devices devices (half direct, half indirect), poll every ${poll} s"
"$bin/fleet/rsp-fleet" --pki "$pki" --eim-api "https://localhost:$api" \
  --api-key-file "$work/api.key" --poll-interval "$poll" --threads 8 --progress 0 \
  --status "$work/fleet.json" --json >"$work/fleet-report.json" 2>"$work/fleet.log" &
fleet_pid=$!
pids+=($fleet_pid)
# manufacture: every device registered at the eIM and its AddInitialEim on the card
t0=$(now)
while :; do
  kill -0 "$fleet_pid" 2>/dev/null || fail "rsp-fleet stopped"
  m=$(python3 -c 'import json,sys
try: print(json.load(open(sys.argv[1]))["manufactured"])
except Exception: print(0)' "$work/fleet.json" 2>/dev/null)
  [[ -t 1 ]] && printf '\r  manufactured %s / %s' "$m" "$devices"
  [[ "$m" == "$devices" ]] && break
  sleep 1
done
printf '\r  manufactured %s / %s (%s s)\n' "$devices" "$devices" "$(elapsed "$t0" "$(now)")"

# Waits until the eIM has no operation queued or sent, showing progress.
phase_wait() { eimctl stats --wait-idle --timeout 900 >/dev/null || fail "the fleet did not finish: $1"; }
phase_times=()
phase() { phase_times+=("$1|$(elapsed "$2" "$(now)")"); }

say "1. operator A's profile for every device: ES2+ orders, setDefaultDpAddress, download"
t0=$(now)
smdpctl order --profile-type operator-a --eids-file "$work/eids.all" --default-smdp \
  >"$work/orders-a.txt" || fail "ES2+ orders for operator A"
eimctl op bulk --eids-file "$work/eids.all" \
  --spec-json "{\"kind\":\"psmo\",\"psmos\":[{\"setDefaultDpAddress\":{\"address\":\"$smdp_addr\"}}]}" \
  >/dev/null
eimctl op bulk --eids-file "$work/eids.all" --spec-json '{"kind":"download","defaultSmdp":true}' \
  >/dev/null
phase_wait "download A"
phase "download A" "$t0"

say "2. enable operator A's profile on every device"
t0=$(now)
awk '{ printf "%s {\"kind\":\"psmo\",\"psmos\":[{\"enable\":{\"iccid\":\"%s\"}}]}\n", $1, $2 }' \
  "$work/orders-a.txt" >"$work/ops-enable-a.txt"
eimctl op add-many --ops-file "$work/ops-enable-a.txt" >/dev/null
phase_wait "enable A"
phase "enable A" "$t0"

say "3. switch half of the fleet ($switching devices) to operator B, rollback allowed"
t0=$(now)
smdpctl order --profile-type operator-b --eids-file "$work/eids.switch" --default-smdp \
  >"$work/orders-b.txt" || fail "ES2+ orders for operator B"
eimctl op bulk --eids-file "$work/eids.switch" --spec-json '{"kind":"download","defaultSmdp":true}' \
  >/dev/null
phase_wait "download B"
awk '{ printf "%s {\"kind\":\"psmo\",\"psmos\":[{\"enable\":{\"iccid\":\"%s\",\"rollback\":true}}]}\n", $1, $2 }' \
  "$work/orders-b.txt" >"$work/ops-enable-b.txt"
eimctl op add-many --ops-file "$work/ops-enable-b.txt" >/dev/null
phase_wait "switch to B"
phase "switch to B" "$t0"

say "4. delete the profiles no device uses (the eIM's view of every device)"
t0=$(now)
eimctl --json device list --all --profiles >"$work/devices.json"
python3 - "$work/devices.json" >"$work/ops-delete.txt" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
rows = doc["devices"] if isinstance(doc, dict) else doc
for d in rows:
    for p in d.get("profiles", []):
        if p.get("state") == "disabled":
            print(d["eid"], json.dumps({"kind": "psmo", "psmos": [{"delete": {"iccid": p["iccid"]}}]},
                                       separators=(",", ":")))
EOF
deletes=$(wc -l <"$work/ops-delete.txt")
if (( deletes > 0 )); then
  eimctl op add-many --ops-file "$work/ops-delete.txt" >/dev/null
  phase_wait "delete"
fi
phase "delete unused" "$t0"

# the final view: every device with exactly one profile, enabled
eimctl --json device list --all --profiles >"$work/devices-final.json"
eimctl --json stats >"$work/stats.json"
sleep 1.2 # one more status write of the fleet
cp "$work/fleet.json" "$work/fleet-final.json"
end=$(now)

say "summary"
rc=0
python3 - "$work" "$(elapsed "$start" "$end")" "$deletes" "${phase_times[@]}" <<'EOF' || rc=$?
import json, sys
work, total, deletes, phases = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
st = json.load(open(f"{work}/stats.json"))
fl = json.load(open(f"{work}/fleet-final.json"))
doc = json.load(open(f"{work}/devices-final.json"))
rows = doc["devices"] if isinstance(doc, dict) else doc
ops = st["operations"]
total_ops = ops.get("total", sum(v for k, v in ops.items() if k != "total"))
on = {"A": 0, "B": 0, "other": 0}
bad = 0
for d in rows:
    profs = d.get("profiles", [])
    en = [p for p in profs if p.get("state") == "enabled"]
    if len(profs) != 1 or len(en) != 1:
        bad += 1
    it = en[0]["iccid"] if en else ""
    on["A" if it.startswith("89882470") else "B" if it.startswith("89882471") else "other"] += 1
req = fl["requests"]
reqs = req["esipa"] + req["es9"] + req["api"]
lines = [
    ("devices", f"{fl['devices']} ({fl['indirectDevices']} download through the eIM)"),
    ("operations", f"{total_ops}"),
    ("succeeded", f"{ops.get('done', 0)}"),
    ("rolled back", f"{st.get('rolledBack', 0)} (the IPAs counted {fl['ipa']['rollbacks']})"),
    ("failed", f"{ops.get('failed', 0) + ops.get('expired', 0)}"),
    ("profiles deleted", f"{deletes}"),
    ("devices on A / B", f"{on['A']} / {on['B']}" + (f" / {on['other']} on neither" if on['other'] else "")),
    ("elapsed", f"{total:.1f} s"),
    ("requests", f"{reqs} device requests (ESipa {req['esipa']}, ES9+ {req['es9']}), "
                 f"{reqs / fl['elapsedSeconds']:.0f}/s over the fleet's run"),
]
for p in phases:
    name, secs = p.split("|")
    lines.append((f"  phase {name}", f"{secs} s"))
w = max(len(k) for k, _ in lines)
for k, v in lines:
    print(f"{k:<{w}}  {v}")
problems = []
if ops.get("failed", 0) or ops.get("expired", 0): problems.append("some operations failed")
if st.get("rolledBack", 0) != fl["ipa"]["rollbacks"]:
    problems.append("the eIM and the devices disagree on rollbacks")
if bad: problems.append(f"{bad} devices do not end with exactly one enabled profile")
if on["A"] + on["B"] != fl["devices"]: problems.append("devices without an operator's profile")
summary = {"devices": fl["devices"], "operations": total_ops, "succeeded": ops.get("done", 0),
           "rolledBack": st.get("rolledBack", 0), "failed": ops.get("failed", 0),
           "deleted": deletes, "onA": on["A"], "onB": on["B"], "elapsedSeconds": total,
           "requests": reqs, "problems": problems}
json.dump(summary, open(f"{work}/summary.json", "w"), indent=2)
for p in problems: print("PROBLEM:", p)
sys.exit(1 if problems else 0)
EOF
[[ -n "${RSP_DEMO_JSON:-}" ]] && cp "$work/summary.json" "$RSP_DEMO_JSON"
exit $rc
