"""Kafka message schema loader: reads Apache Kafka's protocol JSON (JSON with // comments) into a
small field model. Standard library only; imported by protogen.py (which emits C) and by Python
tests that build a reference codec (sys.path.insert(0, "tools/protogen"); import schema).

Public API (everything else is private):

    strip_comments(text) -> str          JSON-with-comments to JSON; // and /* */ inside strings kept
    load_json(path) -> object            strip_comments + json.loads
    VersionRange.parse("0-4" | "3+" | "7" | "none" | None)
        .lo, .hi (hi is None when open-ended), .contains(v), .empty, str(r)
    load_message(path) -> Message        one message/*.json file
    load_messages(schema_dir, overlay_dir=OVERLAY_DIR) -> [Message]
                                         every message/*.json under schema_dir, with the project's
                                         overlays applied (below), sorted by name
    load_metadata_records(schema_dir) -> [Message]
                                         every metadata/*.json (KRaft metadata-log records, kind
                                         "metadata"), sorted by name; [] without that folder
    load_errors(schema_dir) -> [KafkaError] ERRORS.md table, sorted by code
    snake_case("AllowAutoTopicCreation") -> "allow_auto_topic_creation"

Model:
    Message: name, kind ("request" | "response" | "header" | "data" | "metadata"), api_key (int or None),
        valid_versions, flexible_versions (VersionRange), fields ([Field]),
        structs ({name: Struct}: every struct type defined in the file, inline or in commonStructs),
        latest_version_unstable (bool), is_flexible(v)
    Struct: name, fields ([Field])
    Field: name, type (as written, e.g. "[]int32"), is_array, elem (element or value type name),
        is_struct (elem is not a primitive), struct (Struct or None), versions,
        nullable_versions, tagged_versions (VersionRange), tag (int or None),
        flexible_versions (VersionRange or None: a per-field override, e.g. "none"),
        default (see below), has_default (bool: "default" was written in the JSON)
        present(v), nullable(v), tagged(v, flexible), compact(v, flexible)

Wire rules the model encodes (the codec must apply them): a field is on the wire in version v iff
v is in versions; it goes into the tagged-field section instead of its place iff it has a tag, the
message version is flexible and v is in taggedVersions; strings, bytes, records and arrays use the
compact (uvarint length + 1) encoding iff the message version is flexible, unless the field
overrides flexibleVersions. Field.default is the value a field takes when it is absent:
int for integer types, bool, float, str or None (null) for strings, b"" or None for bytes and
records, [] or None for arrays, "struct" or None for non-array structs ("struct" = a struct whose
fields all hold their defaults).
"""

import json
import os
import re

PRIMITIVES = (
    "bool",
    "int8",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "float64",
    "string",
    "bytes",
    "uuid",
    "records",
)
INT_BITS = {
    "int8": (True, 8),
    "int16": (True, 16),
    "uint16": (False, 16),
    "int32": (True, 32),
    "uint32": (False, 32),
    "int64": (True, 64),
}


class SchemaError(Exception):
    """A schema file this loader does not understand (the message says which and why)."""


def strip_comments(text):
    """Removes // line comments and /* */ block comments, leaving string literals untouched."""
    out = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise SchemaError("unterminated /* comment")
            out.append(" ")
            i = j + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def load_json(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        return json.loads(strip_comments(text))
    except ValueError as e:
        raise SchemaError("%s: %s" % (path, e)) from e


class VersionRange:
    """An inclusive range of versions; hi None means open-ended ("3+"); empty for "none"."""

    def __init__(self, lo, hi, empty=False):
        self.lo = lo
        self.hi = hi
        self.empty = empty

    @classmethod
    def parse(cls, text):
        if text is None:
            return cls(0, None, empty=True)
        text = str(text).strip()
        if text == "none":
            return cls(0, None, empty=True)
        m = re.fullmatch(r"(\d+)\+", text)
        if m:
            return cls(int(m.group(1)), None)
        m = re.fullmatch(r"(\d+)-(\d+)", text)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if lo > hi:
                raise SchemaError("bad version range %r" % text)
            return cls(lo, hi)
        m = re.fullmatch(r"\d+", text)
        if m:
            return cls(int(text), int(text))
        raise SchemaError("bad version range %r" % text)

    def contains(self, v):
        if self.empty:
            return False
        return v >= self.lo and (self.hi is None or v <= self.hi)

    def intersect(self, other):
        if self.empty or other.empty:
            return VersionRange(0, None, empty=True)
        lo = max(self.lo, other.lo)
        his = [h for h in (self.hi, other.hi) if h is not None]
        hi = min(his) if his else None
        if hi is not None and lo > hi:
            return VersionRange(0, None, empty=True)
        return VersionRange(lo, hi)

    def __eq__(self, other):
        if not isinstance(other, VersionRange):
            return NotImplemented
        if self.empty or other.empty:
            return self.empty == other.empty
        return (self.lo, self.hi) == (other.lo, other.hi)

    def __hash__(self):
        return hash((self.empty, self.lo, self.hi))

    def __repr__(self):
        return "VersionRange(%s)" % self

    def __str__(self):
        if self.empty:
            return "none"
        if self.hi is None:
            return "%d+" % self.lo
        if self.lo == self.hi:
            return "%d" % self.lo
        return "%d-%d" % (self.lo, self.hi)


def snake_case(name):
    """CamelCase JSON names to snake_case C names: "TopicId" -> "topic_id", "V0Host" -> "v0_host",
    "KRaftVersion" -> "k_raft_version"."""
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return s.lower()


def _parse_int(text, type_name):
    if isinstance(text, bool):
        raise SchemaError("boolean default for %s" % type_name)
    if isinstance(text, int):
        value = text
    else:
        t = str(text).strip()
        neg = t.startswith("-")
        body = t[1:] if neg else t
        if body.lower().startswith("0x"):
            value = int(body[2:], 16)
        elif len(body) > 1 and body.startswith("0"):
            value = int(body[1:], 8)
        else:
            value = int(body, 10)
        value = -value if neg else value
    signed, bits = INT_BITS[type_name]
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not lo <= value <= hi:
        raise SchemaError("default %r out of range for %s" % (text, type_name))
    return value


class Struct:
    def __init__(self, name, fields):
        self.name = name
        self.fields = fields


class Field:
    def __init__(self, raw, message_name):
        try:
            self.name = raw["name"]
            self.type = raw["type"]
        except KeyError as e:
            raise SchemaError("%s: field without %s" % (message_name, e)) from e
        self.is_array = self.type.startswith("[]")
        self.elem = self.type[2:] if self.is_array else self.type
        self.is_struct = self.elem not in PRIMITIVES
        self.struct = None  # resolved by Message once every struct is known
        self.versions = VersionRange.parse(raw.get("versions"))
        if self.versions.empty:
            raise SchemaError("%s.%s: no versions" % (message_name, self.name))
        self.nullable_versions = VersionRange.parse(raw.get("nullableVersions"))
        self.tag = raw.get("tag")
        if self.tag is not None:
            self.tag = int(self.tag)
            self.tagged_versions = VersionRange.parse(raw.get("taggedVersions"))
        else:
            self.tagged_versions = VersionRange.parse(None)
        fv = raw.get("flexibleVersions")
        self.flexible_versions = VersionRange.parse(fv) if fv is not None else None
        self.has_default = "default" in raw
        self._raw_default = raw.get("default")
        self.inline_fields = None
        if "fields" in raw:
            self.inline_fields = [Field(f, message_name) for f in raw["fields"]]
        self.about = raw.get("about", "")
        self.default = self._parse_default(message_name)

    def _parse_default(self, message_name):
        d = self._raw_default
        is_null = self.has_default and isinstance(d, str) and d.strip() == "null"
        if self.is_array or self.is_struct:
            if self.has_default and not is_null:
                raise SchemaError("%s.%s: only null defaults for %s" % (message_name, self.name, self.type))
            if is_null:
                return None
            return [] if self.is_array else "struct"
        t = self.elem
        if t in INT_BITS:
            return _parse_int(d, t) if self.has_default and d != "" else 0
        if t == "bool":
            if not self.has_default:
                return False
            if isinstance(d, bool):
                return d
            if str(d).strip() in ("true", "false"):
                return str(d).strip() == "true"
            raise SchemaError("%s.%s: bad bool default %r" % (message_name, self.name, d))
        if t == "float64":
            return float(d) if self.has_default else 0.0
        if t == "string":
            if is_null:
                return None
            return str(d) if self.has_default else ""
        if t == "uuid":
            return b"\0" * 16
        if t == "bytes":
            return None if is_null else b""
        if t == "records":
            return None if (is_null or not self.has_default) else b""
        raise SchemaError("%s.%s: unknown type %s" % (message_name, self.name, t))

    def present(self, v):
        return self.versions.contains(v)

    def nullable(self, v):
        return self.nullable_versions.contains(v)

    def tagged(self, v, flexible):
        return self.tag is not None and flexible and self.tagged_versions.contains(v)

    def compact(self, v, flexible):
        if self.flexible_versions is not None:
            return self.flexible_versions.contains(v)
        return flexible


class KafkaError:
    def __init__(self, code, name, message):
        self.code = code
        self.name = name
        self.message = message


class Message:
    def __init__(self, raw, path):
        self.path = path
        self.name = raw["name"]
        self.kind = raw["type"]
        self.api_key = raw.get("apiKey")
        self.valid_versions = VersionRange.parse(raw["validVersions"])
        self.flexible_versions = VersionRange.parse(raw.get("flexibleVersions", "none"))
        self.latest_version_unstable = bool(raw.get("latestVersionUnstable", False))
        self.fields = [Field(f, self.name) for f in raw.get("fields", [])]
        self.structs = {}
        common = []
        for c in raw.get("commonStructs", []):
            common.append(Struct(c["name"], [Field(f, self.name) for f in c.get("fields", [])]))
            self._add_struct(common[-1].name, common[-1].fields)
        self._collect(self.fields)
        for s in common:
            self._collect(s.fields)
        self._resolve(self.fields)

    def _add_struct(self, name, fields):
        if name in self.structs:
            raise SchemaError("%s: struct %s defined twice" % (self.name, name))
        self.structs[name] = Struct(name, fields)

    def _collect(self, fields):
        for f in fields:
            if f.inline_fields is not None:
                if not f.is_struct:
                    raise SchemaError("%s.%s: fields on a primitive type" % (self.name, f.name))
                self._add_struct(f.elem, f.inline_fields)
                self._collect(f.inline_fields)

    def _resolve(self, fields):
        for f in fields:
            if f.is_struct:
                if f.elem not in self.structs:
                    raise SchemaError("%s.%s: unknown struct %s" % (self.name, f.name, f.elem))
                f.struct = self.structs[f.elem]
                if f.inline_fields is not None:
                    self._resolve(f.inline_fields)
        if fields is self.fields:
            for s in self.structs.values():
                self._resolve(s.fields)

    def is_flexible(self, v):
        return self.flexible_versions.contains(v)


# Overlays: versions of Kafka's messages newer than the schemas in ../shared/kafka-protocol (3.9),
# described as changes to those files rather than copies of them. One JSON object per file:
#   "name"          the message it changes ("VoteRequest")
#   "why"           which Kafka release and KIP the change comes from
#   "validVersions" the new version range
#   "rename"        {"Struct.Path.OldName": "NewName"}: a field renamed (the wire does not change)
#   "append"        {"Struct.Path": [field, ...]}: fields added at the end of that struct ("" is
#                   the message's top level), written exactly as in Kafka's JSON
OVERLAY_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "overlay")


def _overlay_fields(raw, path, where):
    """The field list at a dotted path of struct-typed field names ("" = the top level)."""
    fields = raw["fields"]
    for part in [p for p in path.split(".") if p]:
        match = [f for f in fields if f["name"] == part and "fields" in f]
        if len(match) != 1:
            raise SchemaError("%s: no struct field %s in %s" % (where, part, raw["name"]))
        fields = match[0]["fields"]
    return fields


def apply_overlay(raw, overlay, where):
    if overlay.get("name") != raw.get("name"):
        raise SchemaError("%s: overlay names %s" % (where, overlay.get("name")))
    if "validVersions" in overlay:
        raw["validVersions"] = overlay["validVersions"]
    for dotted, new_name in sorted(overlay.get("rename", {}).items()):
        parent, _, old = dotted.rpartition(".")
        match = [f for f in _overlay_fields(raw, parent, where) if f["name"] == old]
        if len(match) != 1:
            raise SchemaError("%s: no field %s to rename" % (where, dotted))
        match[0]["name"] = new_name
    for parent, added in sorted(overlay.get("append", {}).items()):
        fields = _overlay_fields(raw, parent, where)
        for f in added:
            if any(g["name"] == f["name"] for g in fields):
                raise SchemaError("%s: %s.%s already exists" % (where, parent, f["name"]))
            fields.append(f)
    return raw


def load_overlays(overlay_dir):
    if overlay_dir is None or not os.path.isdir(overlay_dir):
        return {}
    overlays = {}
    for n in sorted(os.listdir(overlay_dir)):
        if n.endswith(".json"):
            path = os.path.join(overlay_dir, n)
            o = load_json(path)
            overlays[o.get("name")] = (o, path)
    return overlays


def load_message(path, overlays=None):
    raw = load_json(path)
    if overlays and raw.get("name") in overlays:
        overlay, where = overlays[raw["name"]]
        raw = apply_overlay(raw, overlay, where)
    try:
        return Message(raw, path)
    except KeyError as e:
        raise SchemaError("%s: missing %s" % (path, e)) from e


def load_messages(schema_dir, overlay_dir=OVERLAY_DIR):
    mdir = os.path.join(schema_dir, "message")
    names = sorted(n for n in os.listdir(mdir) if n.endswith(".json"))
    overlays = load_overlays(overlay_dir)
    msgs = [load_message(os.path.join(mdir, n), overlays) for n in names]
    unused = set(overlays) - set(m.name for m in msgs)
    if unused:
        raise SchemaError("overlays for unknown messages: %s" % ", ".join(sorted(unused)))
    return sorted(msgs, key=lambda m: m.name)


def load_metadata_records(schema_dir):
    """Every metadata/*.json ("type": "metadata": the KRaft metadata-log records) under schema_dir,
    sorted by name; [] when the folder is absent."""
    mdir = os.path.join(schema_dir, "metadata")
    if not os.path.isdir(mdir):
        return []
    names = sorted(n for n in os.listdir(mdir) if n.endswith(".json"))
    recs = [load_message(os.path.join(mdir, n)) for n in names]
    for r in recs:
        if r.kind != "metadata":
            raise SchemaError("%s: type %s, expected metadata" % (r.path, r.kind))
    return sorted(recs, key=lambda m: m.name)


def load_errors(schema_dir):
    """Parses the markdown table in ERRORS.md: | code | name | message | exception class |."""
    path = os.path.join(schema_dir, "ERRORS.md")
    errors = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"\|\s*(-?\d+)\s*\|\s*([A-Z0-9_]+)\s*\|([^|]*)\|", line)
            if m:
                errors.append(KafkaError(int(m.group(1)), m.group(2), m.group(3).strip()))
    if not errors:
        raise SchemaError("%s: no error table" % path)
    seen = set()
    for e in errors:
        if e.code in seen or e.name in seen:
            raise SchemaError("%s: duplicate error %d %s" % (path, e.code, e.name))
        seen.add(e.code)
        seen.add(e.name)
    return sorted(errors, key=lambda e: e.code)
