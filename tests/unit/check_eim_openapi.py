#!/usr/bin/env python3
"""Checks docs/eim-api.yaml against the operator API it documents (lib/eim/api*.c).

1. The document parses (PyYAML) and is well-formed OpenAPI 3.0 as far as this project uses it:
   every $ref resolves, every operation has an operationId (unique) and responses, every path
   parameter is declared, both security schemes exist.
2. Its routes are exactly the API's: `test_eim_api PKI --routes` prints "METHOD PATH" for each
   route rsp_eim_api_routes lists; the two sets must be equal.
3. Each documented route, its parameters filled in, is served: `test_eim_api PKI --probe` runs
   a good request (and for POST an empty object) through rsp_eim_api_handle; none may answer
   no_route (404) or 405, each status must be documented for its route, and each answer must
   match the documented schema (openapi-schema-validator, when installed; the document itself is
   validated with openapi-spec-validator when installed).

Usage: check_eim_openapi.py DOC TEST_EIM_API RSP_PKI. Exit 77 (skipped) without PyYAML.
"""
import json
import re
import subprocess
import sys

try:
    import yaml
except ImportError:  # python3-yaml (scripts/deps.sh)
    print("SKIPPED: python3-yaml is not installed")
    sys.exit(77)

METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
SAMPLES = {"eid": "89049032000000000000000000000001", "id": "1"}


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def resolve(doc, ref):
    if not ref.startswith("#/"):
        fail("external $ref %s" % ref)
    node = doc
    for part in ref[2:].split("/"):
        if not isinstance(node, dict) or part not in node:
            fail("$ref %s does not resolve" % ref)
        node = node[part]
    return node


def walk_refs(doc, node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                resolve(doc, v)
            else:
                walk_refs(doc, v)
    elif isinstance(node, list):
        for v in node:
            walk_refs(doc, v)


def param(doc, p):
    return resolve(doc, p["$ref"]) if "$ref" in p else p


def check_structure(doc):
    if not str(doc.get("openapi", "")).startswith("3.0"):
        fail("openapi is not 3.0.x")
    for key in ("info", "paths", "components"):
        if key not in doc:
            fail("no %s" % key)
    schemes = doc["components"].get("securitySchemes", {})
    if schemes.get("bearerAuth", {}).get("scheme") != "bearer":
        fail("no bearer security scheme")
    if schemes.get("apiKeyHeader", {}).get("name") != "X-API-Key":
        fail("no X-API-Key security scheme")
    for name in ("Device", "Operation", "Spec", "Error"):
        if name not in doc["components"].get("schemas", {}):
            fail("no %s schema" % name)
    walk_refs(doc, doc)
    ids = set()
    routes = set()
    for path, item in doc["paths"].items():
        declared = {param(doc, p)["name"] for p in item.get("parameters", []) if param(doc, p)["in"] == "path"}
        for method, op in item.items():
            if method not in METHODS:
                continue
            opid = op.get("operationId")
            if not opid or opid in ids:
                fail("%s %s: missing or repeated operationId" % (method, path))
            ids.add(opid)
            if not op.get("responses"):
                fail("%s %s: no responses" % (method, path))
            names = declared | {param(doc, p)["name"] for p in op.get("parameters", []) if param(doc, p)["in"] == "path"}
            for needed in re.findall(r"{(\w+)}", path):
                if needed not in names:
                    fail("%s %s: path parameter %s not declared" % (method, path, needed))
            routes.add((method.upper(), path))
    return routes


# A request that succeeds for each documented route (on the probe's store: one device, one
# queued operation), and for POST routes also an empty object, which must be refused with 400.
GOOD_BODIES = {
    ("POST", "/v1/devices"): {"eid": "89049032000000000000000000000002", "eimId": "probe"},
    ("POST", "/v1/devices/{eid}/operations"): {"spec": {"kind": "psmo", "psmos": [{"getRAT": {}}]}},
    ("POST", "/v1/operations/bulk"): {
        "eids": ["89049032000000000000000000000001", "89049032000000000000000000000009", "x"],
        "spec": {"kind": "euicc_data", "tags": "BF20"}},
}


def response_schema(doc, path, method, status):
    """The documented JSON schema of one answer, None when the status is not documented."""
    responses = doc["paths"][path][method.lower()]["responses"]
    r = responses.get(str(status))
    if r is None:
        return None
    if "$ref" in r:
        r = resolve(doc, r["$ref"])
    return r["content"]["application/json"]["schema"]


def make_validator(doc):
    """Validates answers against the document's schemas (openapi-schema-validator), if present."""
    try:
        from openapi_schema_validator import OAS30Validator
    except ImportError:
        print("note: openapi-schema-validator absent: answers are not checked against the schemas")
        return None

    def check(schema, instance):
        root = dict(schema)
        root["components"] = doc["components"]
        errors = sorted(OAS30Validator(root).iter_errors(instance), key=lambda e: list(e.path))
        return ["%s: %s" % ("/".join(map(str, e.path)) or "(top)", e.message) for e in errors]
    return check


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    doc_path, test_bin, pki_bin = sys.argv[1:]
    with open(doc_path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    documented = check_structure(doc)
    try:
        from openapi_spec_validator import validate
        validate(doc)
        print("ok the document is valid OpenAPI (openapi-spec-validator)")
    except ImportError:
        print("note: openapi-spec-validator absent: structure checked by this script only")
    out = subprocess.run([test_bin, pki_bin, "--routes"], check=True, capture_output=True, text=True).stdout
    implemented = {tuple(line.split(" ", 1)) for line in out.splitlines() if line.strip()}
    if documented != implemented:
        for r in sorted(documented - implemented):
            print("documented, not implemented: %s %s" % r)
        for r in sorted(implemented - documented):
            print("implemented, not documented: %s %s" % r)
        fail("the document and the API differ")
    requests = []  # (method, template, concrete path, body or None)
    for m, p in sorted(documented, key=lambda r: (r[0] == "DELETE", r)):
        concrete = re.sub(r"{(\w+)}", lambda g: SAMPLES[g.group(1)], p)
        body = GOOD_BODIES.get((m, p))
        if m == "POST" and body is None:
            fail("no sample body for %s %s" % (m, p))
        requests.append((m, p, concrete, json.dumps(body) if body is not None else None))
        if m == "POST":
            requests.append((m, p, concrete, "{}"))
    lines = "".join("%s %s%s\n" % (m, c, " " + b if b else "") for m, _, c, b in requests)
    probe = subprocess.run([test_bin, pki_bin, "--probe"], input=lines, capture_output=True, text=True)
    if probe.returncode != 0:
        fail("probe failed:\n" + probe.stdout + probe.stderr)
    answers = [l for l in probe.stdout.splitlines() if "\t" in l]
    if len(answers) != len(requests):
        fail("%d requests probed, %d answered" % (len(requests), len(answers)))
    check = make_validator(doc)
    for (m, tmpl, concrete, body), line in zip(requests, answers):
        head, answer = line.split("\t", 1)
        status, code, _, _ = head.split(" ", 3)
        if code == "no_route" or status == "405":
            fail("%s %s answers %s %s" % (m, concrete, status, code))
        want_ok = body != "{}"
        if want_ok != status.startswith("2"):
            fail("%s %s %s: unexpected %s %s %s" % (m, concrete, body or "", status, code, answer))
        schema = response_schema(doc, tmpl, m, status)
        if schema is None:
            fail("%s %s: status %s is not documented" % (m, tmpl, status))
        problems = check(schema, json.loads(answer)) if check else []
        if problems:
            fail("%s %s -> %s does not match its schema:\n  %s\n  %s" % (m, concrete, status, "\n  ".join(problems), answer))
        print("ok %s %s -> %s%s" % (m, concrete, status, "" if code == "-" else " " + code))
    print("%d routes documented and served, %d answers match their schemas" % (len(documented), len(answers)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
