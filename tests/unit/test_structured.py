import pytest

from pipeline.core.crypto.envelope import Encryptor
from pipeline.core.crypto.keyring import KeyPurpose
from pipeline.core.crypto.tokens import Tokenizer
from pipeline.core.errors import RejectedMessage
from pipeline.core.formats.processor import AvroFormat
from pipeline.core.formats.values import ValueProtector
from pipeline.core.phi_types import PhiType
from pipeline.devtools.synthetic import synthetic_records


@pytest.fixture
def protect(registry, keyring):
    entry = registry.get("clinical_record")
    tokenizer, encryptor = Tokenizer(keyring), Encryptor(keyring)

    secret = keyring.current(KeyPurpose.PSEUDONYM).material

    def run(record, message_id="m-1"):
        protector = ValueProtector(message_id, tokenizer.tokenize, encryptor.encrypt, secret)
        protected = AvroFormat(registry).protect_record(entry, record, protector).protected
        return protected.record, protected.transformations

    return run


def test_policy_applied_per_field(protect, keyring):
    record = next(synthetic_records(1, seed=5)).record
    record.update(age=93, zip="03601", date_of_birth="1931-02-03")
    out, done = protect(record)
    assert out["patient_name"] is None and out["phone"] is None
    assert out["age"] == "90+"
    assert out["zip"] == "000"
    assert out["date_of_birth"] == "90+"  # Safe Harbor: the birth year of a patient over 89 is one category
    assert out["mrn"].startswith("tok:") and record["mrn"] not in out["mrn"]
    assert out["ssn"].startswith("enc:") and record["ssn"] not in out["ssn"]
    assert out["state"] == record["state"] and out["vitals"] == record["vitals"]
    assert out["note"] == record["note"]  # free text is left for the detector
    assert Tokenizer(keyring).detokenize(out["mrn"], PhiType.MRN) == record["mrn"]
    assert Encryptor(keyring).decrypt(out["ssn"], "m-1", "ssn", PhiType.SSN) == record["ssn"]
    assert {(t.field, t.action) for t in done} >= {("ssn", "encrypt"), ("zip", "generalize"), ("mrn", "tokenize")}


def test_tokens_are_deterministic_so_joins_work(protect):
    record = next(synthetic_records(1, seed=5)).record
    first, _ = protect(record, "m-1")
    second, _ = protect(dict(record), "m-2")
    assert first["mrn"] == second["mrn"] and first["patient_id"] == second["patient_id"]
    assert first["ssn"] != second["ssn"]  # encryption is randomized and bound to the message


def test_missing_optional_values_are_not_transformations(protect):
    record = next(synthetic_records(1, seed=5)).record
    record.update(ssn=None, email=None)
    _, done = protect(record)
    assert "ssn" not in {t.field for t in done} and "email" not in {t.field for t in done}


def test_bad_date_is_a_clear_rejection(protect):
    record = next(synthetic_records(1, seed=5)).record
    record["date_of_birth"] = "unknown"
    with pytest.raises(RejectedMessage) as info:
        protect(record)
    assert info.value.reason == "invalid-field" and "date_of_birth" in info.value.detail


def test_safe_harbor_90_plus_every_date_field_generalized(protect):
    record = next(synthetic_records(1, seed=5)).record
    record.update(age=99, date_of_birth="1925-03-01", admission_date="2024-05-02", discharge_date="2024-05-09")
    out, _done = protect(record)
    assert (out["age"], out["date_of_birth"], out["admission_date"], out["discharge_date"]) == ("90+",) * 4
    assert "1925" not in repr(out)
    # The birth date alone is enough: no age field, born 90+ years before the record's other dates.
    record.update(age=None)
    out, _ = protect(record)
    assert out["date_of_birth"] == "90+" and out["admission_date"] == "90+"
    # A younger patient keeps years (Safe Harbor allows them).
    record.update(age=45, date_of_birth="1979-03-01")
    out, _ = protect(record)
    assert (out["age"], out["date_of_birth"], out["admission_date"]) == ("45", "1979", "2024")
