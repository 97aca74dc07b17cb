"""Synthetic clinical records for demos, tests and benchmarks: Faker values, seeded, never real people.

Each record comes with the list of PHI values planted in it (structured fields and inside the note),
so a test can check that none of them survives de-identification. ``hostile_inputs`` makes the
bad messages a producer may send (undecodable, wrong schema, oversized, invalid UTF-8, ...), each
labelled with the dead-letter reason the pipeline must give it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from faker import Faker

DIAGNOSES = ("I10", "E11.9", "J18.9", "N17.9", "I50.9", "J44.1", "K35.80", "S72.001A", "A41.9", "K21.9")
DRUGS = (
    "metoprolol 25 mg PO BID",
    "lisinopril 10 mg daily",
    "ceftriaxone 1 g IV q24h",
    "heparin 5000 units SC q8h",
    "furosemide 40 mg IV",
    "insulin glargine 20 units qHS",
    "acetaminophen 650 mg PO q6h PRN",
)
FINDINGS = (
    "Afebrile overnight, tolerating diet.",
    "CXR shows right lower lobe consolidation.",
    "Creatinine trending down, 1.4 from 2.1.",
    "Ambulating with PT, steady gait with walker.",
    "Denies chest pain or shortness of breath.",
    "Wound clean, dry and intact; no erythema.",
    "Foley removed, voiding without difficulty.",
    "Glasgow coma scale 15, alert and oriented x3.",
)


#: Structured fields whose values must never reach an output in plaintext.
PLANTED_FIELDS = (
    "record_id",
    "patient_id",
    "patient_name",
    "mrn",
    "ssn",
    "phone",
    "email",
    "street_address",
    "health_plan_id",
    "attending",
    "date_of_birth",
    "admission_date",
)


@dataclass
class SyntheticRecord:
    """A record and every PHI string planted in it (for leak checks); the key is the encounter id."""

    key: str
    record: dict[str, Any]
    planted: list[str] = field(default_factory=list)


def _note(fake: Faker, rng: random.Random, rec: dict[str, Any], extra: list[str]) -> str:
    first, last = rec["patient_name"].split(" ", 1)
    relative = fake.first_name()
    clinician = fake.last_name()
    seen = date.fromisoformat(rec["admission_date"])
    follow_up = seen + timedelta(days=rng.randint(7, 30))
    pager = fake.numerify("###-###-####")
    sentences = [
        f"{rec['age'] or 'Adult'} yo patient {first} {last} (MRN {rec['mrn']}) admitted {seen.strftime('%m/%d/%Y')}.",
        rng.choice(FINDINGS),
        f"Wife {relative} at bedside; reachable at {rec['phone']}.",
        f"Started {rng.choice(DRUGS)}.",
        rng.choice(FINDINGS),
        f"Discussed with Dr. {clinician}, pager {pager}.",
        f"Follow up in clinic on {follow_up.strftime('%B %d, %Y')}.",
    ]
    extra.extend([first, last, relative, clinician, pager, seen.strftime("%m/%d/%Y"), follow_up.strftime("%B %d, %Y")])
    middle = sentences[1:5]
    rng.shuffle(middle)
    return " ".join([sentences[0], *middle, *sentences[5:]])


def synthetic_records(count: int, seed: int = 7, *, with_notes: bool = True) -> Iterator[SyntheticRecord]:
    """``count`` records from a seeded Faker; the same seed gives the same records."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    for index in range(count):
        born = fake.date_of_birth(minimum_age=18, maximum_age=99)
        admitted = fake.date_between(start_date=date(2025, 1, 1), end_date=date(2026, 10, 31))
        age = admitted.year - born.year - ((admitted.month, admitted.day) < (born.month, born.day))
        record: dict[str, Any] = {
            "record_id": f"ENC-{seed:03d}-{index:07d}",
            "patient_id": f"P{fake.numerify('########')}",
            "patient_name": f"{fake.first_name()} {fake.last_name()}",
            "mrn": fake.numerify("#######"),
            "date_of_birth": born.isoformat(),
            "age": age,
            "ssn": fake.ssn(),
            "phone": fake.numerify("(###) ###-####"),
            "email": fake.email(),
            "street_address": fake.street_address(),
            "city": fake.city(),
            "state": fake.state_abbr(),
            "zip": fake.zipcode(),
            "admission_date": admitted.isoformat(),
            "discharge_date": (admitted + timedelta(days=rng.randint(1, 12))).isoformat(),
            "health_plan_id": fake.bothify("HP-??######").upper(),
            "attending": f"{fake.first_name()} {fake.last_name()}",
            "diagnosis_codes": rng.sample(DIAGNOSES, rng.randint(1, 3)),
            "vitals": {
                "heart_rate": rng.randint(55, 120),
                "systolic_bp": rng.randint(95, 170),
                "diastolic_bp": rng.randint(55, 100),
                "temperature_c": round(rng.uniform(36.1, 39.2), 1),
                "spo2": rng.randint(88, 100),
            },
            "note": None,
        }
        planted = [record[name] for name in PLANTED_FIELDS]
        if with_notes:
            record["note"] = _note(fake, rng, record, planted)
        yield SyntheticRecord(record["record_id"], record, planted)


@dataclass
class HostileInput:
    """A message the pipeline must dead-letter with ``expected_reason``."""

    kind: str
    value: bytes
    schema_ref: str | None
    expected_reason: str


def hostile_inputs(valid_avro: bytes, valid_json: bytes, max_bytes: int, seed: int = 11) -> list[HostileInput]:
    """One of each kind of bad value, built from a valid Avro and a valid JSON encoding of a record."""
    rng = random.Random(seed)
    garbage = bytes(rng.randrange(1, 256) for _ in range(64))
    doc = json.loads(valid_json)
    wrong_type = dict(doc, age="ninety")
    extra_field = dict(doc, favourite_colour="blue")
    missing = {k: v for k, v in doc.items() if k != "mrn"}
    nested: str = "[" * 100_000 + "]" * 100_000
    surrogate = json.dumps(dict(doc, note="Pt seen \ud800 today")).encode()  # valid JSON, not encodable text
    huge_integer = valid_json.replace(b'"age":', b'"age":' + b"9" * 5_000 + b',"_pad":', 1)
    return [
        HostileInput("truncated-avro", valid_avro[: len(valid_avro) // 2], "clinical_record:1", "undecodable"),
        HostileInput("random-bytes", b"\x07" + garbage, "clinical_record:1", "undecodable"),
        HostileInput("unknown-schema-version", valid_avro, "clinical_record:9", "schema-unknown"),
        HostileInput("unknown-schema-name", valid_avro, "lab_result:1", "schema-unknown"),
        HostileInput("json-wrong-type", json.dumps(wrong_type).encode(), "clinical_record:1", "schema-mismatch"),
        HostileInput("json-extra-field", json.dumps(extra_field).encode(), "clinical_record:1", "schema-mismatch"),
        HostileInput("json-missing-field", json.dumps(missing).encode(), "clinical_record:1", "schema-mismatch"),
        HostileInput("json-invalid-utf8", valid_json[:20] + b"\xff\xfe" + valid_json[20:], None, "invalid-utf8"),
        HostileInput("avro-invalid-utf8", _break_avro_utf8(valid_avro), "clinical_record:1", "invalid-utf8"),
        HostileInput("json-syntax", valid_json[:-1], None, "invalid-json"),
        HostileInput("json-deep-nesting", ("{" + '"a":' + nested + "}").encode(), None, "invalid-json"),
        HostileInput("json-lone-surrogate", surrogate, "clinical_record:1", "invalid-unicode"),
        HostileInput("json-huge-integer", huge_integer, "clinical_record:1", "number-too-large"),
        HostileInput("oversized", b"{" + b" " * (max_bytes + 1) + b"}", None, "oversized"),
        HostileInput("empty", b"", None, "empty"),
        HostileInput("confluent-unknown-id", b"\x00\x00\x00\x03\xe7" + valid_avro, None, "schema-unknown"),
    ]


def _break_avro_utf8(valid_avro: bytes) -> bytes:
    """Replace the first string's first character (record_id, after its length byte) with an invalid byte."""
    return valid_avro[:1] + b"\xff" + valid_avro[2:]
