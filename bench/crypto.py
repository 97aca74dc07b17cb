"""Cost of the cryptography per message, in microseconds, at a typical record size.

A typical record: ~2 KB JSON value, a 36-byte record key, 10 protected fields (short identifiers such
as names, SSNs, MRNs, phone numbers). Per message the pipeline signs or verifies once (HMAC over the
whole value), tokenizes or encrypts each protected field, appends one audit event, and (rarely) seals
the whole message as a dead letter.

Each encrypt or decrypt iteration is one record's fields under a message id of its own (the envelope
shares one data key between a record's fields, never between records); each dead letter too.

Run: ``.venv/bin/python bench/crypto.py [--seconds 0.3]``. Prints a table and writes
``bench/results/crypto.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import cryptography

from pipeline.core.crypto.audit_chain import AuditChain
from pipeline.core.crypto.envelope import Encryptor
from pipeline.core.crypto.integrity import sign, verify
from pipeline.core.crypto.keyring import KeyPurpose, Keyring
from pipeline.core.crypto.tokens import Tokenizer
from pipeline.core.phi_types import PhiType

FIELDS: list[tuple[str, PhiType, str]] = [
    ("patient.name", PhiType.NAME, "Maria-Elena Gonzalez-Whitfield"),
    ("patient.ssn", PhiType.SSN, "123-45-6789"),
    ("patient.mrn", PhiType.MRN, "MRN-00482913"),
    ("patient.phone", PhiType.PHONE, "+1 (617) 555-0142"),
    ("patient.email", PhiType.EMAIL, "maria.gonzalez@example.org"),
    ("patient.birth_date", PhiType.DATE, "1957-03-14"),
    ("patient.address.street", PhiType.STREET, "1420 Commonwealth Avenue, Apt 3B"),
    ("patient.address.zip", PhiType.ZIP, "02135"),
    ("encounter.account", PhiType.ACCOUNT, "ACC-7781-2294-55"),
    ("encounter.attending", PhiType.NAME, "Dr. Theodore Abernathy"),
]


def make_value() -> bytes:
    record = {f: v for f, _, v in FIELDS}
    record["note"] = ("Pt seen in clinic for f/u of HTN and T2DM. BP 138/86, HR 72. A1c 7.4. " * 40)[:1650]
    return json.dumps(record).encode("utf-8")


def measure(fn: Callable[[], object], seconds: float, repeats: int = 5) -> float:
    """Median over ``repeats`` runs of the mean microseconds per call."""
    fn()
    calls = 1
    start = time.perf_counter()
    while time.perf_counter() - start < seconds / repeats / 4:
        fn()
        calls += 1
    results = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        results.append((time.perf_counter() - t0) / calls * 1e6)
    return statistics.median(results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.4, help="time budget per operation")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "crypto.json")
    args = parser.parse_args(argv)

    keyring = Keyring.generate()
    encryptor = Encryptor(keyring)
    tokenizer = Tokenizer(keyring)
    chain = AuditChain(keyring, "bench-0")
    value = make_value()
    record_key = str(uuid.uuid4()).encode()
    message_id = str(uuid.uuid4())
    header = sign(keyring, KeyPurpose.INGEST_HMAC, message_id, record_key, value)
    token_pairs = [(tokenizer.tokenize(v, t), t) for _, t, v in FIELDS]
    # Every message has its own id (a record's fields share one data key, records never do), so each
    # iteration encrypts or opens a record of its own: 64 records in turn.
    ids = [f"{message_id}-{i}" for i in range(64)]
    turn = itertools.cycle(range(64))
    records = [[(encryptor.encrypt(v, mid, f, t), f, t) for f, t, v in FIELDS] for mid in ids]
    sealed = [encryptor.seal_bytes(value, mid) for mid in ids]
    fresh = (f"{message_id}-{i}" for i in itertools.count(64))

    def decrypt_record() -> list[str]:
        i = next(turn)
        return [encryptor.decrypt(c, ids[i], f, t) for c, f, t in records[i]]

    def encrypt_record() -> list[str]:
        mid = next(fresh)
        return [encryptor.encrypt(v, mid, f, t) for f, t, v in FIELDS]

    def open_letter() -> bytes:
        i = next(turn)
        return encryptor.open_bytes(sealed[i], ids[i])

    audit_event = {
        "event": "message",
        "message_id": message_id,
        "stage": "protect",
        "outcome": "redacted",
        "schema": "intake.v1",
        "entities": {t.value: 1 for _, t, _ in FIELDS},
        "detectors": {"rules": 8, "model": 2},
        "duration_ms": 12.5,
        "worker": "w-1",
        "partition": 0,
        "offset": 123456,
    }
    n = len(FIELDS)

    ops: list[tuple[str, int, Callable[[], object]]] = [
        ("sign", 1, lambda: sign(keyring, KeyPurpose.INGEST_HMAC, message_id, record_key, value)),
        ("verify", 1, lambda: verify(keyring, KeyPurpose.INGEST_HMAC, header, message_id, record_key, value)),
        ("tokenize", n, lambda: [tokenizer.tokenize(v, t) for _, t, v in FIELDS]),
        ("detokenize", n, lambda: [tokenizer.detokenize(tok, t) for tok, t in token_pairs]),
        ("encrypt", n, encrypt_record),
        ("decrypt", n, decrypt_record),
        ("deadletter_seal", 1, lambda: encryptor.seal_bytes(value, next(fresh))),
        ("deadletter_open", 1, open_letter),
        ("audit_append", 1, lambda: chain.append(audit_event)),
    ]
    rows = []
    for name, per_message, fn in ops:
        us = measure(fn, args.seconds)
        rows.append(
            {
                "operation": name,
                "us_per_message": round(us, 2),
                "ops_per_message": per_message,
                "us_per_op": round(us / per_message, 2),
            }
        )
    by_name = {r["operation"]: r["us_per_message"] for r in rows}
    combined = {
        "sign_plus_verify": round(by_name["sign"] + by_name["verify"], 2),
        "tokenize_plus_encrypt": round(by_name["tokenize"] + by_name["encrypt"], 2),
    }

    print(f"value {len(value)} bytes, {n} protected fields; microseconds (median of 5 runs)")
    print(f"{'operation':<18}{'us/message':>12}{'ops/msg':>9}{'us/op':>9}")
    for r in rows:
        print(f"{r['operation']:<18}{r['us_per_message']:>12.1f}{r['ops_per_message']:>9}{r['us_per_op']:>9.1f}")
    for name, us in combined.items():
        print(f"{name:<18}{us:>12.1f}")

    result = {
        "benchmark": "crypto",
        "value_bytes": len(value),
        "protected_fields": n,
        "unit": "microseconds",
        "rows": rows,
        "combined_us_per_message": combined,
        "environment": {
            "python": platform.python_version(),
            "cryptography": cryptography.__version__,
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
