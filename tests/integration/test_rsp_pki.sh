#!/usr/bin/env bash
# Integration test of rsp-pki: create (both curves) and import-sgp26, then `rsp-pki verify`,
# the manifest checked with python3, and the certificates cross-checked with the openssl
# command line, which shares no code with lib/crypto/chain.c.
#
# Usage: test_rsp_pki.sh RSP_PKI_BINARY [SHARED_DIR]
# Exit 0 on success, 1 on failure, 77 (skipped) when the SGP.26 part cannot run because the
# shared reference data is absent (the create part has then passed).
set -euo pipefail

PKI=${1:?usage: test_rsp_pki.sh RSP_PKI_BINARY [SHARED_DIR]}
SHARED=${2:-${RSP_SHARED:-}}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rsp-pki-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
step() { echo "== $*"; }

# expect_rc WANT CMD...: runs CMD and checks its exit code.
expect_rc() {
  local want=$1 rc=0
  shift
  "$@" >"$WORK/out.txt" 2>&1 || rc=$?
  [[ $rc -eq $want ]] || { cat "$WORK/out.txt" >&2; fail "exit $rc (wanted $want): $*"; }
}

# The manifest: every file exists, eids match the eUICC entries and have valid check digits
# (SGP.29: the 32-digit number is 1 modulo 97), every EID starts with the EIN.
check_manifest() {
  python3 - "$1" "$2" "$3" <<'EOF'
import json, os, sys
d, want_curve, want_n = sys.argv[1], sys.argv[2], int(sys.argv[3])
m = json.load(open(os.path.join(d, "pki.json")))
assert m["format"] == "openrsp-pki/1", m["format"]
assert m["curve"] == want_curve, m["curve"]
entries = [m["ci"], m["eum"], m["smdp"]["auth"], m["smdp"]["pb"], m["smdp"]["tls"],
           m["smds"]["auth"], m["smds"]["tls"], m["eim"]["sign"], m["eim"]["tls"]] + m["euicc"]
for e in entries:
    for k in ("cert", "cert_pem", "key"):
        if k in e:
            p = os.path.join(d, e[k])
            assert os.path.isfile(p), p
    mode = os.stat(os.path.join(d, e["key"])).st_mode & 0o777
    assert mode == 0o600, (e["key"], oct(mode))
assert len(m["eids"]) == want_n, (m["eids"], want_n)
assert m["eids"] == [e["eid"] for e in m["euicc"]]
for eid in m["eids"]:
    assert len(eid) == 32 and eid.isdigit() and int(eid) % 97 == 1, eid
    assert eid.startswith(m["ein"]), (eid, m["ein"])
    assert m["euicc"][m["eids"].index(eid)]["cert"] == "euicc/%s/cert.der" % eid
print("manifest ok:", d, len(entries), "certificates")
EOF
}

# Splits a DER certificate into its TBSCertificate and signature value so openssl dgst can check
# the signature with the issuer's public key, without any path validation.
split_cert() {
  python3 - "$1" "$2" "$3" <<'EOF'
import sys
der = open(sys.argv[1], "rb").read()
def tlv(b, i):
    n = b[i + 1]; h = 2
    if n & 0x80:
        k = n & 0x7F; n = int.from_bytes(b[i + 2:i + 2 + k], "big"); h = 2 + k
    return i + h, n          # value offset, length
v, n = tlv(der, 0)
tv, tn = tlv(der, v)          # tbsCertificate
tbs_end = tv + tn
av, an = tlv(der, tbs_end)    # signatureAlgorithm
sv, sn = tlv(der, av + an)    # signatureValue BIT STRING
assert der[av + an] == 0x03 and der[sv] == 0
open(sys.argv[2], "wb").write(der[v:tbs_end])
open(sys.argv[3], "wb").write(der[sv + 1:sv + sn])
EOF
}

# sig_ok CERT ISSUER_CERT: the signature of CERT verifies with ISSUER_CERT's key.
sig_ok() {
  local c=$1 i=$2
  openssl x509 -inform DER -in "$i" -noout -pubkey >"$WORK/issuer.pub"
  split_cert "$c" "$WORK/tbs.bin" "$WORK/sig.bin"
  openssl dgst -sha256 -verify "$WORK/issuer.pub" -signature "$WORK/sig.bin" "$WORK/tbs.bin" \
    >/dev/null || fail "openssl: signature of $c does not verify under $i"
}

# key_ok DIR/part: key.pem is the private key of cert.der.
key_ok() {
  local a b
  a=$(openssl pkey -in "$1/key.pem" -pubout -outform DER | od -An -tx1 | tr -d ' \n')
  b=$(openssl x509 -inform DER -in "$1/cert.der" -noout -pubkey | openssl pkey -pubin -outform DER |
    od -An -tx1 | tr -d ' \n')
  [[ "$a" == "$b" ]] || fail "openssl: $1/key.pem does not match $1/cert.der"
}

openssl_checks() {
  local d=$1
  for f in $(find "$d" -name cert.der | sort); do
    openssl x509 -inform DER -in "$f" -noout || fail "openssl cannot parse $f"
    openssl asn1parse -inform DER -in "$f" >/dev/null || fail "openssl asn1parse $f"
    key_ok "$(dirname "$f")"
  done
  sig_ok "$d/ci/cert.der" "$d/ci/cert.der"
  sig_ok "$d/eum/cert.der" "$d/ci/cert.der"
  for e in "$d"/euicc/*/cert.der; do sig_ok "$e" "$d/eum/cert.der"; done
  for p in smdp/auth smdp/pb smdp/tls smds/auth smds/tls eim/sign eim/tls; do
    sig_ok "$d/$p/cert.der" "$d/ci/cert.der"
  done
  # TLS chains are ordinary X.509 paths (no nameConstraints on the CI): OpenSSL accepts them.
  openssl verify -x509_strict -purpose sslserver -CAfile "$d/ci/cert.pem" \
    "$d/smdp/tls/cert.pem" "$d/smds/tls/cert.pem" "$d/eim/tls/cert.pem" >/dev/null ||
    fail "openssl verify of the TLS certificates under the CI"
  # The eUICC path is where OpenSSL's nameConstraints check differs from the RSP rule
  # ("permitted subtree violation"); it is only reported here, not asserted.
  openssl x509 -inform DER -in "$d/eum/cert.der" -out "$WORK/eum.pem"
  local e1
  e1=$(ls "$d"/euicc | head -n1)
  openssl x509 -inform DER -in "$d/euicc/$e1/cert.der" -out "$WORK/euicc.pem"
  if openssl verify -CAfile "$d/ci/cert.pem" -untrusted "$WORK/eum.pem" "$WORK/euicc.pem" \
    >"$WORK/ossl.txt" 2>&1; then
    echo "note: openssl verify accepted the eUICC chain"
  else
    echo "note: openssl verify on the eUICC chain: $(grep -o 'permitted subtree violation' "$WORK/ossl.txt" | head -n1 || true)"
  fi
}

# ---- create --------------------------------------------------------------------------------------
for curve in nist brp; do
  d="$WORK/create-$curve"
  step "create $curve"
  expect_rc 0 "$PKI" create --dir "$d" --curve "$curve" \
    --eid 89049032123451234512345678901235 --eid-range 890490320000000000000000000100:3 \
    --smdp-host smdp.openrsp.test --smds-host smds.openrsp.test --eim-host eim.openrsp.test \
    --eim-id test-eim
  expect_rc 0 "$PKI" verify --dir "$d"
  grep -q "13 certificates checked: 13 ok, 0 failed" "$WORK/out.txt" || fail "verify summary"
  "$PKI" verify --dir "$d" --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["ok"] is True and r["failed"] == 0 and r["checked"] == 13, r
assert all(x["ok"] and x["depth"] == -1 for x in r["results"])'
  check_manifest "$d" "$curve" 4
  openssl_checks "$d"
  openssl x509 -inform DER -in "$d/smdp/tls/cert.der" -noout -ext subjectAltName |
    grep -q "DNS:smdp.openrsp.test" || fail "SM-DP+ TLS SAN"
  openssl x509 -inform DER -in "$d/smds/tls/cert.der" -noout -ext subjectAltName |
    grep -q "DNS:smds.openrsp.test" || fail "SM-DS TLS SAN"
  # the SM-DS roles (SGP.22 4.5.2.1: id-rspRole-ds-auth .7, ds-tls .6)
  openssl x509 -inform DER -in "$d/smds/auth/cert.der" -noout -ext certificatePolicies |
    grep -q "2.23.146.1.2.1.7" || fail "SM-DS auth role"
  openssl x509 -inform DER -in "$d/smds/tls/cert.der" -noout -ext certificatePolicies |
    grep -q "2.23.146.1.2.1.6" || fail "SM-DS TLS role"
  openssl x509 -inform DER -in "$d/eum/cert.der" -noout -ext nameConstraints |
    grep -q "serialNumber *= *89049032" || fail "EUM nameConstraints"
done

step "create: refusals"
expect_rc 1 "$PKI" create --dir "$WORK/create-nist" # not empty
expect_rc 2 "$PKI" create --dir "$WORK/x" --eid 89049032123451234512345678901234 # check digits
expect_rc 2 "$PKI" create --dir "$WORK/x" --eid 89049033123451234512345678901257 # other EIN
expect_rc 2 "$PKI" create --dir "$WORK/x" --curve p384
expect_rc 2 "$PKI" create
expect_rc 2 "$PKI" verify --dir "$WORK/x" --eid 89049032123451234512345678901235
expect_rc 2 "$PKI" bogus
expect_rc 0 "$PKI" --help
[[ ! -e "$WORK/x" ]] || fail "a refused create left $WORK/x behind"
expect_rc 0 "$PKI" create --dir "$WORK/create-nist" --force --json
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$WORK/out.txt" || fail "--json output"

step "verify: tampering is caught"
t="$WORK/tampered"
cp -r "$WORK/create-brp" "$t"
# An eUICC certificate under another EUM (the NIST PKI's) must not verify.
e1=$(ls "$t/euicc" | head -n1)
cp "$WORK/create-nist/euicc/$e1/cert.der" "$t/euicc/$e1/cert.der"
expect_rc 1 "$PKI" verify --dir "$t"
grep -q "FAIL  euicc $e1" "$WORK/out.txt" || fail "tampered eUICC not reported"
# A key that does not belong to its certificate.
cp -r "$WORK/create-brp" "$t.2"
cp "$t.2/smdp/pb/key.pem" "$t.2/smdp/auth/key.pem"
expect_rc 1 "$PKI" verify --dir "$t.2"
grep -q "FAIL  smdp auth" "$WORK/out.txt" || fail "mismatched key not reported"
# An SM-DS auth certificate with another role (the SM-DP+'s) must not verify as CERT.DSauth.
cp -r "$WORK/create-brp" "$t.3"
cp "$t.3/smdp/auth/cert.der" "$t.3/smds/auth/cert.der"
cp "$t.3/smdp/auth/key.pem" "$t.3/smds/auth/key.pem"
expect_rc 1 "$PKI" verify --dir "$t.3"
grep -q "FAIL  smds auth" "$WORK/out.txt" || fail "SM-DS certificate of the wrong role not reported"

# ---- import-sgp26 ----------------------------------------------------------------------------
if [[ -z "$SHARED" || ! -d "$SHARED/sgp26" ]]; then
  echo "SKIPPED: shared SGP.26 data absent (create checks passed)"
  exit 77
fi
for curve in nist brp; do
  d="$WORK/sgp26-$curve"
  step "import-sgp26 $curve"
  expect_rc 0 "$PKI" import-sgp26 --from "$SHARED/sgp26" --dir "$d" --curve "$curve" \
    --eid-range 890490320000000000000000000200:2
  # Time is ignored: SGP.26 TLS certificates live about a year; chain.c's time rules are tested
  # with fixed dates in test_sgp26_chain.
  expect_rc 0 "$PKI" verify --dir "$d" --ignore-time
  check_manifest "$d" "$curve" 3
  python3 - "$d" <<'EOF'
import json, os, sys
m = json.load(open(os.path.join(sys.argv[1], "pki.json")))
assert m["source"] == "sgp26" and m["ein"] == "89049032", m
assert m["eids"][0] == "89049032123451234512345678901235", m["eids"]
EOF
  cmp "$d/ci/cert.der" "$SHARED/sgp26/CertificateIssuer/CERT_CI_ECDSA_${curve^^}.der" ||
    fail "the SGP.26 CI was not copied byte for byte"
  openssl_checks "$d"
done
step "import-sgp26 with a fresh SM-DP+ TLS certificate"
expect_rc 0 "$PKI" import-sgp26 --from "$SHARED/sgp26" --dir "$WORK/sgp26-host" --smdp-host localhost
expect_rc 0 "$PKI" verify --dir "$WORK/sgp26-host" --ignore-time
openssl x509 -inform DER -in "$WORK/sgp26-host/smdp/tls/cert.der" -noout -ext subjectAltName |
  grep -q "DNS:localhost" || fail "new SM-DP+ TLS SAN"
step "check: the SGP.26 invalid certificates, each rejected for its reason"
INV="$SHARED/sgp26/InvalidTestCases"
expect_rc 1 "$PKI" check --dir "$WORK/sgp26-host" --eid 89049032123451234512345678901235 \
  --json "$INV"/*.der
cp "$WORK/out.txt" "$WORK/check.json"
python3 - "$WORK/check.json" <<'EOF'
import json, sys
r = {e["cert"]: e for e in json.load(open(sys.argv[1]))["results"]}
want = {
    "CERT_EUICC_ECDSA_NIST_EXPIRED.der": "RSP_E_CERT_EXPIRED",
    "CERT_EUICC_ECDSA_NIST_INVALID.der": "RSP_E_CERT_SIG_INVALID",
    "CERT_EUICC_ECDSA_NIST_INVALID_EID.der": "RSP_E_CERT_EID_OUT_OF_RANGE",
    "CERT_EUICC_ECDSA_NIST_UNMATCHED_EID.der": "RSP_E_CERT_EID_MISMATCH",
    "CERT_EUM_ECDSA_NIST_EXPIRED.der": "RSP_E_CERT_EXPIRED",
    "CERT_EUM_ECDSA_NIST_INVALID.der": "RSP_E_CERT_SIG_INVALID",
    "CERT_EUM_ECDSA_NIST_UNKNOWN_CI.der": "RSP_E_CERT_UNKNOWN_CI",
    "CERT_UNKNOWN_CI_ECDSA_NIST.der": "RSP_E_CERT_UNKNOWN_CI",
}
assert len(r) == len(want), sorted(r)
for name, err in want.items():
    assert r[name]["ok"] is False and r[name]["error"] == err, (name, r[name])
EOF
expect_rc 0 "$PKI" check --dir "$WORK/sgp26-host" --eid 89049032123451234512345678901235 \
  "$SHARED/sgp26/eUICC/CERT_EUICC_ECDSA_NIST.der" "$SHARED/sgp26/EUM/CERT_EUM_ECDSA_NIST.der" \
  "$SHARED/sgp26/DPauth/CERT_S_SM_DPauth_ECDSA_NIST.der"
expect_rc 2 "$PKI" check --dir "$WORK/sgp26-host"
echo "all rsp-pki checks passed"
