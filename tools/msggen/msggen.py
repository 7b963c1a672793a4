#!/usr/bin/env python3
"""msggen: generates openrsp's message tables from the GSMA ASN.1 modules.

    msggen.py ASN1_DIR OUT_HEADER OUT_SOURCE

Reads RSPDefinitions.asn (SGP.22 v2.5) and SGP32Definitions.asn (SGP.32 v1.2) with its own small
ASN.1 parser (no third-party compiler), applies the X.680 tagging rules itself (AUTOMATIC TAGS,
IMPLICIT by default, EXPLICIT for untagged CHOICE and open types) and writes:

  * a header with one C struct per SEQUENCE, CHOICE and SEQUENCE OF, the CHOICE selectors, the
    named numbers and named bits as constants, and the type descriptors' declarations;
  * a source file with the descriptor tables that lib/msg's table-driven codec walks.

The output is committed (the product builds without the modules); the test msggen_check
regenerates it from ../shared/spec/asn1 and fails when the committed copy differs.

Types imported from PKIX and the SAIP PE module stay opaque (kept as their DER bytes), except the
few leaf types whose encoding the RSP modules depend on (SubjectKeyIdentifier, UICCCapability).
"""
import re
import sys

MODULES = ["RSPDefinitions", "SGP32Definitions"]

# Imported types: kind and natural tag. Opaque kinds keep the whole TLV.
IMPORTED = {
    "Certificate": ("RAW", 0x30),
    "CertificateList": ("RAW", 0x30),
    "SubjectPublicKeyInfo": ("RAW", 0x30),
    "Time": ("ANY", 0),  # CHOICE { utcTime, generalTime }: kept as one opaque TLV
    "SubjectKeyIdentifier": ("OCTETS", 0x04),
    "UICCCapability": ("BITS", 0x03),
}

UNIVERSAL = {
    "INTEGER": ("INT", 0x02),
    "BOOLEAN": ("BOOL", 0x01),
    "NULL": ("NULL", 0x05),
    "OCTET STRING": ("OCTETS", 0x04),
    "BIT STRING": ("BITS", 0x03),
    "UTF8String": ("UTF8", 0x0C),
    "IA5String": ("STRING", 0x16),
    "PrintableString": ("STRING", 0x13),
    "VisibleString": ("STRING", 0x1A),
    "GeneralizedTime": ("STRING", 0x18),
    "UTCTime": ("STRING", 0x17),
    "OBJECT IDENTIFIER": ("OID", 0x06),
    "ENUMERATED": ("ENUM", 0x0A),
}

C_KEYWORDS = {"default", "int", "char", "short", "long", "float", "double", "signed", "unsigned",
              "if", "else", "for", "while", "do", "switch", "case", "break", "continue", "return",
              "goto", "struct", "union", "enum", "typedef", "static", "extern", "const", "volatile",
              "register", "auto", "void", "sizeof", "inline", "restrict", "bool", "true", "false"}


class Error(Exception):
    pass


# ---- lexing ----------------------------------------------------------------------------------

def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    out = []
    for line in text.split("\n"):
        res, i, in_comment = [], 0, False
        while i < len(line):
            if line.startswith("--", i):
                in_comment = not in_comment
                i += 2
                continue
            if not in_comment:
                res.append(line[i])
            i += 1
        out.append("".join(res))
    return "\n".join(out)


TOKEN = re.compile(r"""\s*(::=|\.\.\.|\.\.|\[\[|\]\]|[{}\[\](),|;.&]|'[0-9A-Fa-f]*'H|'[01]*'B|"[^"]*"|-?\d+|[A-Za-z&][A-Za-z0-9\-]*)""")


def tokenize(text):
    toks, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            raise Error("cannot tokenize near %r" % text[pos:pos + 40])
        toks.append(m.group(1))
        pos = m.end()
    return [t for t in toks if t != ""]


class Parser:
    def __init__(self, toks, module):
        self.t, self.i, self.module = toks, 0, module

    def peek(self, k=0):
        return self.t[self.i + k] if self.i + k < len(self.t) else None

    def next(self):
        tok = self.peek()
        if tok is None:
            raise Error("%s: unexpected end" % self.module)
        self.i += 1
        return tok

    def expect(self, tok):
        got = self.next()
        if got != tok:
            raise Error("%s: expected %r, got %r near token %d (%s)" %
                        (self.module, tok, got, self.i, " ".join(self.t[self.i - 5:self.i + 5])))

    def skip_balanced(self, open_tok, close_tok):
        self.expect(open_tok)
        depth = 1
        while depth:
            tok = self.next()
            if tok == open_tok:
                depth += 1
            elif tok == close_tok:
                depth -= 1

    # module ::= header DEFINITIONS ... BEGIN [IMPORTS ...;] assignments END
    def module_body(self):
        while self.next() != "BEGIN":
            pass
        if self.peek() == "IMPORTS":
            while self.next() != ";":
                pass
        types = []
        while self.peek() != "END":
            name = self.next()
            if name[0].isupper() and self.peek() == "::=":
                self.next()
                if self.peek() == "CLASS":  # OPENTYPE information object class
                    self.next()
                    self.skip_balanced("{", "}")
                    continue
                types.append((name, self.type()))
            else:  # value assignment: name Type ::= value
                while self.next() != "::=":
                    pass
                if self.peek() == "{":
                    self.skip_balanced("{", "}")
                else:
                    self.next()
        return types

    def tag(self):
        self.expect("[")
        cls = "CONTEXT"
        if self.peek() in ("APPLICATION", "PRIVATE", "UNIVERSAL"):
            cls = self.next()
        num = int(self.next())
        self.expect("]")
        mode = None
        if self.peek() in ("IMPLICIT", "EXPLICIT"):
            mode = self.next()
        return (cls, num, mode)

    def constraint(self, ty):
        """Parses one parenthesised constraint; keeps SIZE and value ranges."""
        self.expect("(")
        if self.peek() == "SIZE":
            self.next()
            self.expect("(")
            lo, hi = self.range_()
            self.expect(")")
            ty["size"] = (lo, hi)
        elif re.match(r"-?\d+$", self.peek() or ""):
            ty["range"] = self.range_()
        else:
            self.i -= 1
            self.skip_balanced("(", ")")
            return
        self.expect(")")

    def range_(self):
        lo = self.next()
        hi = lo
        if self.peek() == "..":
            self.next()
            hi = self.next()
        conv = lambda v: None if v == "MAX" else int(v)
        return (conv(lo), conv(hi))

    def named_list(self):
        self.expect("{")
        named = []
        while self.peek() != "}":
            if self.peek() == "...":
                self.next()
            else:
                n = self.next()
                self.expect("(")
                v = int(self.next())
                self.expect(")")
                named.append((n, v))
            if self.peek() == ",":
                self.next()
        self.expect("}")
        return named

    def type(self):
        ty = {}
        if self.peek() == "[":
            ty["tag"] = self.tag()
        tok = self.next()
        if tok in ("SEQUENCE", "SET"):
            if self.peek() == "{":
                ty["kind"] = "SEQ"
                ty["comps"] = self.components()
            else:
                if self.peek() == "(" or self.peek() == "SIZE":
                    if self.peek() == "SIZE":
                        self.next()
                        self.expect("(")
                        ty["size"] = self.range_()
                        self.expect(")")
                    else:
                        self.constraint(ty)
                self.expect("OF")
                ty["kind"] = "SEQOF"
                if self.peek()[0].islower():
                    self.next()  # element name (SEQUENCE OF name Type)
                ty["elem"] = self.type()
        elif tok == "CHOICE":
            ty["kind"] = "CHOICE"
            ty["comps"] = self.components()
        elif tok in ("OCTET", "BIT", "OBJECT"):
            tok += " " + self.next()
            ty["kind"], ty["utag"] = UNIVERSAL[tok]
            if tok == "BIT STRING" and self.peek() == "{":
                ty["named"] = self.named_list()
        elif tok in ("INTEGER", "ENUMERATED"):
            ty["kind"], ty["utag"] = UNIVERSAL[tok]
            if self.peek() == "{":
                ty["named"] = self.named_list()
        elif tok in UNIVERSAL:
            ty["kind"], ty["utag"] = UNIVERSAL[tok]
        elif tok == "OPENTYPE":
            self.expect(".")
            if self.peek() == "&":
                self.next()
            what = self.next().lstrip("&")
            if what == "typeId":
                ty["kind"], ty["utag"] = "OID", 0x06
            else:
                ty["kind"], ty["utag"] = "ANY", 0
        elif tok[0].isupper():
            ty["kind"] = "REF"
            ty["ref"] = tok
        else:
            raise Error("%s: unexpected token %r" % (self.module, tok))
        while self.peek() == "(":
            self.constraint(ty)
        return ty

    def components(self):
        self.expect("{")
        comps = []
        while self.peek() != "}":
            if self.peek() in ("...", "[[", "]]"):
                self.next()
            else:
                name = self.next()
                ty = self.type()
                comp = {"name": name, "type": ty, "optional": False, "default": None}
                if self.peek() == "OPTIONAL":
                    self.next()
                    comp["optional"] = True
                elif self.peek() == "DEFAULT":
                    self.next()
                    comp["default"] = self.next()
                comps.append(comp)
            if self.peek() == ",":
                self.next()
        self.expect("}")
        return comps


# ---- tags ------------------------------------------------------------------------------------

CLASS_BITS = {"UNIVERSAL": 0x00, "APPLICATION": 0x40, "CONTEXT": 0x80, "PRIVATE": 0xC0}


def encode_tag(cls, num, constructed):
    first = CLASS_BITS[cls] | (0x20 if constructed else 0)
    if num < 31:
        return first | num
    out = [first | 0x1F]
    groups = []
    while True:
        groups.insert(0, num & 0x7F)
        num >>= 7
        if not num:
            break
    for i, g in enumerate(groups):
        out.append(g | (0x80 if i < len(groups) - 1 else 0))
    v = 0
    for b in out:
        v = v << 8 | b
    return v


def snake(name):
    s = name.replace("-", "_").replace(".", "_")
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    s = re.sub(r"_+", "_", s).lower()
    return s


def cident(name):
    s = snake(name)
    return s + "_" if s in C_KEYWORDS else s


# ---- model -----------------------------------------------------------------------------------

class Gen:
    def __init__(self):
        self.defs = {}  # name -> parsed type
        self.order = []
        self.structs = []  # generated constructed types, in dependency-free order
        self.struct_by_key = {}
        self.consts = []  # (name, value, comment)

    def load(self, path, module):
        with open(path, encoding="utf-8") as f:
            toks = tokenize(strip_comments(f.read()))
        for name, ty in Parser(toks, module).module_body():
            if name == "AsnNull":
                continue  # test-tool helper type, not part of the specs
            if name in self.defs:
                raise Error("duplicate type %s" % name)
            self.defs[name] = ty
            self.order.append(name)

    # Resolves a type through references to its builtin form. Returns (base, outer_tag, mode)
    # where outer_tag is the tag closest to the use site (implicit tags replace inner ones).
    def base(self, ty, seen=()):
        if ty["kind"] == "REF":
            name = ty["ref"]
            if name in IMPORTED:
                kind, utag = IMPORTED[name]
                b = {"kind": kind, "utag": utag, "imported": name, "tags": []}
            else:
                if name in seen:
                    raise Error("recursive type %s" % name)
                b = self.base(self.defs[name], seen + (name,))
                b = dict(b)
                b.setdefault("refname", name)
            # constraints on the reference refine the base
            for k in ("size", "range"):
                if k in ty:
                    b[k] = ty[k]
            if "tag" in ty:
                b = dict(b)
                b["tags"] = [ty["tag"]] + b.get("tags", [])
            return b
        b = dict(ty)
        b["tags"] = [ty["tag"]] if "tag" in ty else []
        return b

    @staticmethod
    def is_untagged_choice_or_open(b):
        return (b["kind"] in ("CHOICE", "ANY")) and not b["tags"]

    def wire(self, b):
        """Wire layout of a resolved type: list of tags from outside in; 0 = open/choice."""
        tags = b["tags"]
        inner_constructed = b["kind"] in ("SEQ", "SEQOF", "CHOICE", "RAW", "ANY")
        if b["kind"] == "CHOICE":
            # every tag on a CHOICE is an explicit wrapper; implicit tags on an already-tagged
            # CHOICE replace that wrapper (X.680 31.2.7), so at most one wrapper remains
            if not tags:
                return [0]
            if len(tags) > 1 and any(t[2] == "EXPLICIT" for t in tags[:-1]):
                raise Error("explicitly tagged tagged CHOICE not supported")
            cls, num, _ = tags[0]
            return [encode_tag(cls, num, True)]
        layers = []
        # walk tags outermost first; an IMPLICIT (default) tag replaces the next one
        i = 0
        while i < len(tags):
            cls, num, mode = tags[i]
            rest_untagged_open = (i == len(tags) - 1 and b["kind"] in ("ANY",))
            if mode == "EXPLICIT" or rest_untagged_open:
                layers.append(encode_tag(cls, num, True))
                i += 1
                continue
            layers.append(encode_tag(cls, num, inner_constructed))
            return layers
        if b["kind"] == "ANY":
            layers.append(0)
        else:
            layers.append(b.get("utag", 0x30) if b["kind"] not in ("SEQ", "SEQOF") else 0x30)
        return layers

    # ---- structs ----
    def struct_for(self, b, hint):
        """Returns the generated struct record for a constructed resolved type."""
        key = b.get("refname") or hint
        if b.get("refname") and "tags" in b and b.get("refname") in self.struct_by_key:
            return self.struct_by_key[b["refname"]]
        if key in self.struct_by_key:
            return self.struct_by_key[key]
        rec = {"asn": key, "c": cident(key), "kind": b["kind"], "fields": [], "done": False}
        self.check_unique(rec)
        self.struct_by_key[key] = rec
        self.fill(rec, b)
        self.structs.append(rec)
        return rec

    def check_unique(self, rec):
        for other in self.structs:
            if other["c"] == rec["c"]:
                raise Error("C name %s used by %s and %s" % (rec["c"], other["asn"], rec["asn"]))

    def auto_tagging(self, comps):
        return not any("tag" in c["type"] for c in comps)

    def fill(self, rec, b):
        if b["kind"] == "SEQOF":
            rec["size"] = b.get("size")
            rec["fields"] = [self.field(rec, {"name": "item", "type": b["elem"], "optional": False,
                                              "default": None}, None, elem=True)]
            return
        comps = b["comps"]
        auto = self.auto_tagging(comps)
        for idx, comp in enumerate(comps):
            rec["fields"].append(self.field(rec, comp, idx if auto else None))

    def field(self, rec, comp, auto_idx, elem=False):
        ty = comp["type"]
        if auto_idx is not None:
            ty = dict(ty)
            ty["tag"] = ("CONTEXT", auto_idx, None)
        b = self.base(ty)
        # A tag written on an untagged CHOICE/open type is explicit (X.680 31.2.7).
        tags = b["tags"]
        if tags and tags[0][2] is None:
            rest = dict(b)
            rest["tags"] = tags[1:]
            if rest["kind"] in ("ANY",) and not rest["tags"]:
                tags = [(tags[0][0], tags[0][1], "EXPLICIT")] + tags[1:]
                b = dict(b)
                b["tags"] = tags
        layers = self.wire(b)
        f = {"asn": comp["name"], "c": cident(comp["name"]), "kind": b["kind"],
             "optional": comp["optional"], "default": comp["default"], "layers": layers,
             "size": b.get("size"), "range": b.get("range"), "type": None, "named": b.get("named"),
             "elem": elem, "imported": b.get("imported"), "natural": b.get("utag", 0),
             "tname": b.get("imported") or b.get("refname")}
        if b["kind"] in ("SEQ", "SEQOF", "CHOICE"):
            hint = (rec["asn"] + "." + comp["name"]) if not b.get("refname") else b["refname"]
            f["type"] = self.struct_for(b, hint)
        if f["named"]:
            owner = b.get("refname") or (rec["asn"] + "-" + comp["name"])
            prefix = "RSP_MSG_" + snake(owner).upper()
            for n, v in f["named"]:
                self.add_const(prefix + "_" + snake(n).upper(), v,
                               "%s %s" % (owner, "bit" if b["kind"] == "BITS" else "value"))
        return f

    def add_const(self, name, value, comment):
        for n, v, _ in self.consts:
            if n == name:
                if v != value:
                    raise Error("constant %s defined twice with different values" % name)
                return
        self.consts.append((name, value, comment))

    def generate(self):
        for name in self.order:
            b = self.base(self.defs[name])
            if b["kind"] in ("SEQ", "SEQOF", "CHOICE"):
                b = dict(b)
                b["refname"] = name
                rec = self.struct_for_top(name, b)
                rec["top_layers"] = self.wire(b)
            elif b.get("named"):
                owner = name
                for n, v in b["named"]:
                    self.add_const("RSP_MSG_" + snake(owner).upper() + "_" + snake(n).upper(), v,
                                   "%s %s" % (owner, "bit" if b["kind"] == "BITS" else "value"))

    def struct_for_top(self, name, b):
        if name in self.struct_by_key:
            return self.struct_by_key[name]
        target = self.defs[name]
        if target["kind"] == "REF" and target["ref"] not in IMPORTED:
            # alias of another constructed type: its own descriptor over the target's struct
            tgt = self.struct_for_top(target["ref"], dict(self.base(self.defs[target["ref"]]),
                                                           refname=target["ref"]))
            rec = {"asn": name, "c": cident(name), "kind": tgt["kind"], "alias": tgt,
                   "fields": tgt["fields"], "size": tgt.get("size")}
            self.check_unique(rec)
            self.struct_by_key[name] = rec
            self.structs.append(rec)
            return rec
        return self.struct_for(b, name)


# ---- output ----------------------------------------------------------------------------------

KIND = {"INT": "RSP_MSG_INT", "ENUM": "RSP_MSG_ENUM", "BOOL": "RSP_MSG_BOOL", "NULL": "RSP_MSG_NULL",
        "OCTETS": "RSP_MSG_OCTETS", "UTF8": "RSP_MSG_UTF8", "STRING": "RSP_MSG_STRING",
        "BITS": "RSP_MSG_BITS", "OID": "RSP_MSG_OID", "RAW": "RSP_MSG_RAW", "ANY": "RSP_MSG_ANY",
        "SEQ": "RSP_MSG_SEQ", "SEQOF": "RSP_MSG_SEQOF", "CHOICE": "RSP_MSG_CHOICE"}


def ctype(f, member=True):
    k = f["kind"]
    opt = f["optional"] or f["default"] is not None
    if k in ("INT", "ENUM"):
        return "struct rsp_msg_int" if (opt and member) else "int64_t"
    if k == "BOOL":
        return "struct rsp_msg_bool" if (opt and member) else "bool"
    if k == "NULL":
        return "bool"
    if k in ("SEQ", "SEQOF", "CHOICE"):
        return "struct rsp_msg_%s %s" % (real(f["type"])["c"], "*" if member else "")
    return "struct rsp_slice"


def real(rec):
    while "alias" in rec:
        rec = rec["alias"]
    return rec


def tag_hex(t):
    return "0x%Xu" % t if t else "0"


def describe(f):
    parts = []
    if f["layers"] and f["layers"][0]:
        parts.append("%X" % f["layers"][0])
    if len(f["layers"]) > 1:
        parts.append("explicit, inner %s" % ("%X" % f["layers"][1] if f["layers"][1] else "any"))
    if f["size"]:
        lo, hi = f["size"]
        parts.append("SIZE(%s..%s)" % (lo, "MAX" if hi is None else hi) if lo != hi else "SIZE(%s)" % lo)
    if f["imported"]:
        parts.append(f["imported"])
    if f["optional"]:
        parts.append("OPTIONAL")
    if f["default"] is not None:
        parts.append("DEFAULT " + f["default"])
    return " ".join(parts)


def default_value(f, gen):
    d = f["default"]
    if d is None:
        return "0"
    if d == "TRUE":
        return "1"
    if d == "FALSE":
        return "0"
    if re.match(r"-?\d+$", d):
        return d
    for n, v in f["named"] or []:
        if n == d:
            return str(v)
    raise Error("unknown DEFAULT value %s" % d)


def bounds(f):
    rng = f["size"] if f["kind"] in ("OCTETS", "UTF8", "STRING", "BITS", "SEQOF") else f["range"]
    lo, hi, flags = "0", "0", []
    if rng:
        if rng[0] is not None:
            lo, flags = str(rng[0]), flags + ["RSP_MSG_F_LO"]
        if rng[1] is not None:
            hi, flags = str(rng[1]), flags + ["RSP_MSG_F_HI"]
    return lo, hi, flags


def emit(gen, hpath, cpath):
    structs = gen.structs
    h = []
    h.append("/* openrsp: message types of SGP.22 v2.5 (RSPDefinitions) and SGP.32 v1.2 (SGP32Definitions).")
    h.append(" *")
    h.append(" * GENERATED by tools/msggen/msggen.py from the GSMA ASN.1 modules; do not edit by hand.")
    h.append(" * One struct per SEQUENCE, CHOICE and SEQUENCE OF, named after its ASN.1 production")
    h.append(" * (anonymous inner types after Parent.component); see include/rsp/msg/msg.h for the")
    h.append(" * value conventions and docs/messages.md for the coverage. */")
    h.append("/* clang-format off */")
    h.append("#ifndef RSP_MSG_ASN1_H")
    h.append("#define RSP_MSG_ASN1_H")
    h.append("")
    h.append("#include \"rsp/msg/msg.h\"")
    h.append("")
    h.append("/* ---- named numbers and named bits ---- */")
    for n, v, c in gen.consts:
        h.append("#define %s %d /* %s */" % (n, v, c))
    h.append("")
    h.append("/* ---- forward declarations ---- */")
    for r in structs:
        if "alias" not in r:
            h.append("struct rsp_msg_%s;" % r["c"])
    h.append("")
    for r in structs:
        if "alias" in r:
            h.append("/* %s ::= %s: values are struct rsp_msg_%s, descriptor rsp_msgt_%s. */" %
                     (r["asn"], r["alias"]["asn"], real(r)["c"], r["c"]))
            h.append("")
            continue
        h.append("/* %s (%s) */" % (r["asn"], {"SEQ": "SEQUENCE", "SEQOF": "SEQUENCE OF",
                                               "CHOICE": "CHOICE"}[r["kind"]]))
        if r["kind"] == "CHOICE":
            up = "RSP_MSG_" + r["c"].upper()
            h.append("enum rsp_msg_%s_alt {" % r["c"])
            h.append("  %s_NONE = 0," % up)
            for i, f in enumerate(r["fields"]):
                h.append("  %s_%s = %d," % (up, f["c"].upper().rstrip("_"), i + 1))
            h.append("};")
        h.append("struct rsp_msg_%s {" % r["c"])
        h.append("  struct rsp_slice raw; /* the whole TLV as received (empty when built) */")
        if r["kind"] == "SEQOF":
            f = r["fields"][0]
            h.append("  %s%s*v; /* items (%s) */" % (ctype(f, member=False),
                                                  "" if ctype(f, False).endswith(" ") else " ", describe(f)))
            h.append("  size_t n;")
        elif r["kind"] == "CHOICE":
            h.append("  int which; /* RSP_MSG_%s_*, or RSP_MSG_ALT_UNKNOWN */" % r["c"].upper())
            h.append("  union {")
            for f in r["fields"]:
                ct = ctype(f, member=True)
                sep = "" if ct.endswith("*") else " "
                h.append("    %s%s%s; /* %s */" % (ct, sep, f["c"], describe(f)))
            h.append("  } u;")
        else:
            h.append("  struct rsp_msg_ext *ext; /* unknown extensions as received, re-encoded in place */")
            for f in r["fields"]:
                ct = ctype(f, member=True)
                sep = "" if ct.endswith("*") else " "
                h.append("  %s%s%s; /* %s */" % (ct, sep, f["c"], describe(f)))
        h.append("};")
        h.append("")
    h.append("/* ---- descriptors ---- */")
    for r in structs:
        h.append("extern const struct rsp_msg_type rsp_msgt_%s;" % r["c"])
    h.append("")
    h.append("/* Every descriptor above, for tests and tools that look types up by ASN.1 name. */")
    h.append("extern const struct rsp_msg_type *const rsp_msg_all_types[];")
    h.append("extern const size_t rsp_msg_all_types_count;")
    h.append("")
    h.append("#endif")

    c = []
    c.append("/* openrsp: descriptor tables for the message types in include/rsp/msg/asn1.h.")
    c.append(" * GENERATED by tools/msggen/msggen.py from the GSMA ASN.1 modules; do not edit by hand. */")
    c.append("/* clang-format off */")
    c.append("#include <stddef.h>")
    c.append("")
    c.append("#include \"rsp/msg/asn1.h\"")
    c.append("")
    for r in structs:
        if "alias" in r:
            continue
        rc = r["c"]
        c.append("static const struct rsp_msg_field %s_fields[] = {" % rc)
        for f in r["fields"]:
            lo, hi, flags = bounds(f)
            if f["optional"]:
                flags.append("RSP_MSG_F_OPTIONAL")
            if f["default"] is not None:
                flags.append("RSP_MSG_F_DEFAULT")
            if len(f["layers"]) > 1:
                flags.append("RSP_MSG_F_EXPLICIT")
            if r["kind"] == "SEQOF":
                off = "0"
            elif r["kind"] == "CHOICE":
                off = "offsetof(struct rsp_msg_%s, u.%s)" % (rc, f["c"])
            else:
                off = "offsetof(struct rsp_msg_%s, %s)" % (rc, f["c"])
            tref = "&rsp_msgt_%s" % f["type"]["c"] if f["type"] else "NULL"
            c.append("    {\"%s\", %s, %s, %s, %s, %s, %s, %s, %s, %s, %s}," % (
                f["asn"], tref, tag_hex(f["layers"][0]),
                tag_hex(f["layers"][1]) if len(f["layers"]) > 1 else
                (tag_hex(f["natural"]) if f["kind"] == "RAW" else "0"), off, KIND[f["kind"]],
                " | ".join(flags) if flags else "0", lo, hi, default_value(f, gen),
                '"%s"' % f["tname"] if f["tname"] else "NULL"))
        c.append("};")
    c.append("")
    for r in structs:
        rr = real(r)
        layers = r.get("top_layers")
        if layers is None:
            # anonymous inner type: the natural tag without the use-site tag
            layers = [0x30] if r["kind"] in ("SEQ", "SEQOF") else [0]
        tag = layers[0] if layers else 0
        lo, hi, flags = "0", "0", []
        if r["kind"] == "SEQOF" and rr.get("size"):
            lo_, hi_ = rr["size"]
            if lo_ is not None:
                lo, flags = str(lo_), flags + ["RSP_MSG_F_LO"]
            if hi_ is not None:
                hi, flags = str(hi_), flags + ["RSP_MSG_F_HI"]
        c.append("const struct rsp_msg_type rsp_msgt_%s = {\"%s\", %s_fields, %s, sizeof(struct rsp_msg_%s), %d, %s, %s, %s, %s};" % (
            r["c"], r["asn"], rr["c"], tag_hex(tag), rr["c"], len(rr["fields"]), KIND[r["kind"]],
            " | ".join(flags) if flags else "0", lo, hi))
    c.append("")
    c.append("const struct rsp_msg_type *const rsp_msg_all_types[] = {")
    for r in structs:
        c.append("    &rsp_msgt_%s," % r["c"])
    c.append("};")
    c.append("const size_t rsp_msg_all_types_count = sizeof rsp_msg_all_types / sizeof rsp_msg_all_types[0];")
    with open(hpath, "w") as f:
        f.write("\n".join(h) + "\n")
    with open(cpath, "w") as f:
        f.write("\n".join(c) + "\n")


def main():
    if len(sys.argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    gen = Gen()
    for m in MODULES:
        gen.load("%s/%s.asn" % (sys.argv[1], m), m)
    gen.generate()
    emit(gen, sys.argv[2], sys.argv[3])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Error as e:
        sys.stderr.write("msggen: %s\n" % e)
        sys.exit(1)
