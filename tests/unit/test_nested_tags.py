"""PHI tags at any depth: nested records, arrays, maps and unions, each value protected and listed by path.

The schema-driven property test builds random schemas (records inside arrays, maps and nullable unions,
tags at any level, on scalars and on arrays and maps of scalars) with a record for each, sends it
through ``RecordProcessor.process_batch`` and checks that every tagged leaf is transformed, listed under
its own path, and that its value appears in no output; untagged values come out as they went in.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pipeline.core.codecs import decode_avro
from pipeline.core.crypto.envelope import Encryptor
from pipeline.core.crypto.tokens import Tokenizer
from pipeline.core.errors import SchemaError
from pipeline.core.messages import InboundMessage
from pipeline.core.phi_types import PhiType
from pipeline.core.schemas import SchemaRegistry
from pipeline.devtools.inputs import encode_record, signed_input
from tests.unit.processors import unit_processor

REPO = Path(__file__).resolve().parents[2]

GUARANTOR = {
    "type": "record",
    "name": "Guarantor",
    "fields": [
        {"name": "name", "type": "string", "phi": "NAME", "action": "redact"},
        {"name": "phone", "type": ["null", "string"], "default": None, "phi": "PHONE", "action": "tokenize"},
        {"name": "relation", "type": "string"},
    ],
}
REFERRAL = {
    "type": "record",
    "name": "Referral",
    "namespace": "org.test",
    "version": 1,
    "subject_field": "patient_id",
    "fields": [
        {"name": "patient_id", "type": "string", "phi": "ID", "action": "tokenize"},
        {"name": "guarantor", "type": GUARANTOR},
        {
            "name": "contacts",
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "Contact",
                    "fields": [
                        {"name": "name", "type": "string", "phi": "NAME", "action": "encrypt"},
                        {"name": "role", "type": "string"},
                    ],
                },
            },
            "default": [],
        },
        {
            "name": "aliases",
            "type": {"type": "array", "items": "string"},
            "default": [],
            "phi": "NAME",
            "action": "tokenize",
        },
        {
            "name": "extras",
            "type": {"type": "map", "values": "string"},
            "default": {},
            "phi": "PHONE",
            "action": "redact",
        },
        {"name": "backup", "type": ["null", "Guarantor"], "default": None},
        {
            "name": "visits",
            "type": {
                "type": "map",
                "values": {
                    "type": "array",
                    "items": {
                        "type": "record",
                        "name": "Visit",
                        "fields": [
                            {"name": "date", "type": "string", "phi": "DATE", "action": "generalize"},
                            {
                                "name": "note",
                                "type": ["null", "string"],
                                "default": None,
                                "phi": "FREE_TEXT",
                                "action": "detect",
                            },
                        ],
                    },
                },
            },
            "default": {},
        },
    ],
}
RECORD = {
    "patient_id": "P-771-0042",
    "guarantor": {"name": "Orla Quennell", "phone": "(555) 014-2231", "relation": "daughter"},
    "contacts": [{"name": "Bram Ostrowe", "role": "nurse"}, {"name": "Ilse Varga", "role": "gp"}],
    "aliases": ["Orly Q", "O. Quennell"],
    "extras": {"work": "(555) 014-9921", "cell": "(555) 014-7733"},
    "backup": {"name": "Tavi Quennell", "phone": None, "relation": "son"},
    "visits": {"2024": [{"date": "2024-03-09", "note": "Mail quennell.o@example.org re: SSN 512-44-3187."}]},
}
SECRETS = [
    "P-771-0042",
    "Orla Quennell",
    "(555) 014-2231",
    "Bram Ostrowe",
    "Ilse Varga",
    "Orly Q",
    "O. Quennell",
    "(555) 014-9921",
    "(555) 014-7733",
    "Tavi Quennell",
    "2024-03-09",
    "quennell.o@example.org",
    "512-44-3187",
]


def registry_with(folder: Path, **schemas: dict) -> SchemaRegistry:
    for name in ("dead_letter", "audit_event"):
        shutil.copy(REPO / "schemas" / f"{name}.avsc", folder / f"{name}.avsc")
    for name, schema in schemas.items():
        (folder / f"{name}.avsc").write_text(json.dumps(schema))
    return SchemaRegistry.load(folder)


def process(registry, keyring, schema_name, record, encoding="avro"):
    entry = registry.get(schema_name)
    processor = unit_processor(registry, keyring, default_schema=schema_name)
    signed = signed_input(keyring, entry.ref, encode_record(entry, record, encoding), "k")
    message = InboundMessage(signed.value, signed.key, tuple(signed.headers), "phi.ingest", 0, 0, 0)
    return entry, processor.process_batch([message])[0]


@pytest.mark.parametrize("encoding", ["avro", "json"])
def test_nested_tags_protect_every_value_and_list_its_path(tmp_path, keyring, encoding):
    registry = registry_with(tmp_path, referral=REFERRAL)
    entry, result = process(registry, keyring, "referral", RECORD, encoding)
    assert result.outcome == "ok", (result.reason, result.stage)
    out = decode_avro(registry.output_for(entry), result.outputs[0].value)
    assert out["guarantor"]["name"] is None and out["guarantor"]["relation"] == "daughter"
    assert Tokenizer(keyring).detokenize(out["guarantor"]["phone"], PhiType.PHONE) == "(555) 014-2231"
    names = [c["name"] for c in out["contacts"]]
    assert [
        Encryptor(keyring).decrypt(n, result.message_id, f"contacts[{i}].name", PhiType.NAME)
        for i, n in enumerate(names)
    ] == [
        "Bram Ostrowe",
        "Ilse Varga",
    ]
    assert all(a.startswith("tok:") for a in out["aliases"])
    assert out["extras"] == {"cell": None, "work": None}  # keys stay (they are the schema's data), values go
    assert out["backup"]["name"] is None and out["backup"]["relation"] == "son"
    visit = out["visits"]["2024"][0]
    assert visit["date"] == "2024" and "[EMAIL]" in visit["note"] and "[SSN]" in visit["note"]
    paths = {(t["field"], t["action"]) for t in out["phi_transformations"]}
    assert {
        ("guarantor.name", "redact"),
        ("guarantor.phone", "tokenize"),
        ("contacts[0].name", "encrypt"),
        ("contacts[1].name", "encrypt"),
        ("aliases[0]", "tokenize"),
        ("aliases[1]", "tokenize"),
        ("extras{0}", "redact"),
        ("extras{1}", "redact"),
        ("backup.name", "redact"),
        ("visits{0}[0].date", "generalize"),
        ("visits{0}[0].note", "redact"),
    } <= paths
    assert not any(t["field"] == "backup.phone" for t in out["phi_transformations"])  # null: nothing to do
    blob = result.outputs[0].value.decode("utf-8", "replace") + json.dumps(out)
    leaked = [s for s in SECRETS if s in blob]
    assert not leaked


def test_nested_tag_names_its_path_in_the_policy(tmp_path):
    registry = registry_with(tmp_path, referral=REFERRAL)
    names = {p.name for p in registry.get("referral").policies}
    assert {"guarantor.name", "contacts[].name", "aliases", "extras", "visits{}[].date", "visits{}[].note"} <= names


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ({"name": "g", "type": dict(GUARANTOR, name="G2", phi="NAME", action="redact")}, "belong on record fields"),
        (
            {
                "name": "g",
                "type": {
                    "type": "record",
                    "name": "G3",
                    "fields": [{"name": "b", "type": "boolean", "phi": "NAME", "action": "redact"}],
                },
            },
            "supported",
        ),
        (
            {
                "name": "g",
                "type": {
                    "type": "map",
                    "values": {
                        "type": "record",
                        "name": "G4",
                        "fields": [{"name": "x", "type": "string", "phi": "NAME"}],
                    },
                },
            },
            "needs both",
        ),
        (
            {"name": "g", "type": {"type": "array", "items": GUARANTOR}, "phi": "NAME", "action": "redact"},
            "tag the fields inside",
        ),
        (
            {"name": "g", "type": ["null", GUARANTOR], "phi": "NAME", "action": "redact", "default": None},
            "tag the fields inside",
        ),
        (
            {"name": "g", "type": {"type": "enum", "name": "E", "symbols": ["A"]}, "phi": "NAME", "action": "redact"},
            "supported",
        ),
    ],
)
def test_nested_tags_the_policy_cannot_enforce_are_refused_at_load(tmp_path, field, message):
    schema = {
        "type": "record",
        "name": "R",
        "fields": [{"name": "id", "type": "string", "phi": "ID", "action": "tokenize"}, field],
    }
    (tmp_path / "r.avsc").write_text(json.dumps(schema))
    with pytest.raises(SchemaError, match=message):
        SchemaRegistry.load(tmp_path)


# -- schema-driven property test --------------------------------------------------------------------

PHI_TYPES = ("NAME", "PHONE", "ID", "EMAIL", "MRN", "STREET")
ACTIONS = ("redact", "tokenize", "encrypt")


class _Builder:
    """Draws a random schema and a matching record, noting every tagged leaf's path and value."""

    def __init__(self, draw):
        self.draw = draw
        self.n = 0
        self.tagged: dict[str, object] = {}  # concrete path -> value
        self.plain: list[str] = []

    def fresh(self, prefix):
        self.n += 1
        return f"{prefix}{self.n:04d}"

    def leaf_type(self, depth):
        kind = self.draw(st.sampled_from(["string", "int", "nullable", "array", "map"] if depth else ["string", "int"]))
        if kind == "array":
            return {"type": "array", "items": self.leaf_type(depth - 1)}
        if kind == "map":
            return {"type": "map", "values": self.leaf_type(depth - 1)}
        if kind == "nullable":
            return ["null", self.draw(st.sampled_from(["string", "long"]))]
        return kind

    def leaf_value(self, avro_type, path, tagged):
        if isinstance(avro_type, list):
            if self.draw(st.booleans()):
                return None
            return self.leaf_value(avro_type[1], path, tagged)
        if isinstance(avro_type, dict) and avro_type["type"] == "array":
            size = self.draw(st.integers(0, 3))
            return [self.leaf_value(avro_type["items"], f"{path}[{i}]", tagged) for i in range(size)]
        if isinstance(avro_type, dict) and avro_type["type"] == "map":
            keys = sorted(self.fresh("key") for _ in range(self.draw(st.integers(0, 3))))
            return {k: self.leaf_value(avro_type["values"], f"{path}{{{i}}}", tagged) for i, k in enumerate(keys)}
        if avro_type == "string":
            value = self.fresh("Cnry" if tagged else "plain") + "Zq"
        elif tagged:  # unique, and ten digits: found in an output only if it leaked
            self.n += 1
            value = 1_700_000_000 + 7919 * self.n
        else:
            value = self.draw(st.integers(0, 999))
        if tagged:
            self.tagged[path] = value
        elif isinstance(value, str):
            self.plain.append(value)
        return value

    def record_type(self, depth):
        fields, makers = [], []
        for _ in range(self.draw(st.integers(1, 4))):
            name = self.fresh("f")
            if self.draw(st.booleans()):
                avro_type = self.leaf_type(2)
                phi, action = self.draw(st.sampled_from(PHI_TYPES)), self.draw(st.sampled_from(ACTIONS))
                fields.append({"name": name, "type": avro_type, "phi": phi, "action": action})
                makers.append((name, lambda path, t=avro_type: self.leaf_value(t, path, True)))
            else:
                avro_type, make = self.any_type(depth)
                fields.append({"name": name, "type": avro_type})
                makers.append((name, make))
        schema = {"type": "record", "name": self.fresh("Rec"), "fields": fields}

        def make(path):
            return {name: maker(f"{path}.{name}" if path else name) for name, maker in makers}

        return schema, make

    def any_type(self, depth):
        kinds = ["leaf"] + (["record", "array", "map", "union"] if depth else [])
        kind = self.draw(st.sampled_from(kinds))
        if kind == "leaf":
            avro_type = self.leaf_type(1)
            return avro_type, lambda path: self.leaf_value(avro_type, path, False)
        if kind == "record":
            return self.record_type(depth - 1)
        inner, make_inner = self.any_type(depth - 1)
        if kind == "array":

            def make_array(path):
                return [make_inner(f"{path}[{i}]") for i in range(self.draw(st.integers(0, 3)))]

            return {"type": "array", "items": inner}, make_array
        if kind == "map":

            def make_map(path):
                keys = sorted(self.fresh("key") for _ in range(self.draw(st.integers(0, 3))))
                return {k: make_inner(f"{path}{{{i}}}") for i, k in enumerate(keys)}

            return {"type": "map", "values": inner}, make_map
        record, make_record = self.record_type(depth - 1)
        return ["null", record], lambda path: None if self.draw(st.booleans()) else make_record(path)


@st.composite
def schemas_with_records(draw):
    builder = _Builder(draw)
    schema, make = builder.record_type(3)
    schema["fields"].insert(0, {"name": "rid", "type": "string", "phi": "ID", "action": "tokenize"})
    schema.update(name="Generated", namespace="org.gen", version=1)
    record = {"rid": None, **make("")}
    record["rid"] = builder.fresh("Cnry") + "Zq"
    builder.tagged["rid"] = record["rid"]
    return schema, record, builder.tagged, builder.plain


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=schemas_with_records(), encoding=st.sampled_from(["avro", "json"]))
def test_property_every_tagged_leaf_at_any_depth_is_transformed_and_never_output(keyring, case, encoding):
    schema, record, tagged, plain = case
    depth = max(path.count(".") + path.count("[") + path.count("{") for path in tagged)
    event(f"deepest tagged leaf: {min(depth, 4)}{'+' if depth >= 4 else ''} levels below the top")
    with tempfile.TemporaryDirectory() as folder:
        registry = registry_with(Path(folder), generated=schema)
        entry, result = process(registry, keyring, "generated", record, encoding)
    assert result.outcome == "ok", (result.reason, result.stage)
    out = decode_avro(registry.output_for(entry), result.outputs[0].value)
    listed = {t["field"] for t in out["phi_transformations"]}
    expected = {path for path, value in tagged.items() if value is not None}
    assert listed == expected
    blob = json.dumps(out) + result.outputs[0].value.decode("utf-8", "replace")
    for path, value in tagged.items():
        if value is not None:
            assert str(value) not in blob, path
    for value in plain:
        assert value in blob
