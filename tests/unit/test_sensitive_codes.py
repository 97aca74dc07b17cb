"""Coded values as sensitive-category evidence: per code system and per category, positives and hard
negatives (tobacco, dementia, hepatitis, family history, a newborn's record, pain medicines, negative
safety screens, somatic variants), withdrawn codes, and the HL7 v2, FHIR and Avro readers."""

from __future__ import annotations

import pytest

from pipeline.core.errors import SchemaError
from pipeline.core.formats.hl7v2 import Hl7Message
from pipeline.core.sensitive import SensitiveCategory as C
from pipeline.core.sensitive_evidence.avro_codes import code_fields, codes_in_record
from pipeline.core.sensitive_evidence.code_systems import CodeSystem, system_of
from pipeline.core.sensitive_evidence.code_tables import GROUPS, ICD9_RANGES
from pipeline.core.sensitive_evidence.coded import Coded, Result, classify_codes, result_of
from pipeline.core.sensitive_evidence.codes import RANGES
from pipeline.core.sensitive_evidence.fhir_codes import codes_in_fhir
from pipeline.core.sensitive_evidence.hl7_codes import codes_in_hl7

ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"


def categories(system: str | None, code: str, **kw) -> set[C]:
    return set(classify_codes([Coded(system, code, **kw)]).categories)


# (system, code, categories): one positive per system and category, and the hard negatives beside them
CASES = [
    # ICD-10-CM
    (ICD10, "F10.20", {C.SUBSTANCE_USE}),  # alcohol dependence
    (ICD10, "F11.20", {C.SUBSTANCE_USE}),  # opioid dependence
    (ICD10, "F17.210", set()),  # nicotine dependence: tobacco is not Part 2 substance use
    (ICD10, "Z72.0", set()),  # tobacco use
    (ICD10, "Z71.41", {C.SUBSTANCE_USE}),  # alcohol abuse counselling
    (ICD10, "O99.310", {C.SUBSTANCE_USE, C.REPRODUCTIVE}),  # alcohol use complicating pregnancy
    (ICD10, "F32.9", {C.MENTAL_HEALTH}),
    (ICD10, "F03.90", set()),  # dementia: neurocognitive
    (ICD10, "F05", set()),  # delirium
    (ICD10, "R45.851", {C.MENTAL_HEALTH}),  # suicidal ideation
    (ICD10, "X78.0XXA", {C.MENTAL_HEALTH}),  # intentional self-harm by sharp object
    (ICD10, "B20", {C.HIV_STI}),
    (ICD10, "Z21", {C.HIV_STI}),
    (ICD10, "A54.9", {C.HIV_STI}),  # gonococcal infection
    (ICD10, "Z11.4", {C.HIV_STI}),  # HIV screening encounter
    (ICD10, "B18.2", set()),  # chronic hepatitis C: listed apart
    (ICD10, "Z3A.24", {C.REPRODUCTIVE}),  # 24 weeks of gestation
    (ICD10, "O80", {C.REPRODUCTIVE}),  # uncomplicated delivery
    (ICD10, "O98.73", {C.HIV_STI, C.REPRODUCTIVE}),  # HIV complicating the puerperium
    (ICD10, "Z30.011", {C.REPRODUCTIVE}),  # initial prescription of contraceptive pills
    (ICD10, "Z38.00", set()),  # liveborn infant: the newborn's own record
    (ICD10, "N95.1", set()),  # menopause
    (ICD10, "Z15.01", {C.GENETIC}),  # genetic susceptibility to breast cancer
    (ICD10, "Z80.3", set()),  # family history of breast cancer
    (ICD10, "Q90.9", set()),  # Down syndrome: a manifested condition, no test
    (ICD10, "Z36.0", {C.REPRODUCTIVE, C.GENETIC}),  # antenatal screening for chromosomal anomalies
    ("I10", "F20.9", {C.MENTAL_HEALTH}),  # HL7 table 0396 mnemonic
    ("urn:oid:2.16.840.1.113883.6.90", "F20.9", {C.MENTAL_HEALTH}),  # OID
    ("I10P", "0W8NXZZ", set()),  # ICD-10-PCS is not read
    # ICD-9-CM
    ("I9C", "303.90", {C.SUBSTANCE_USE}),
    ("I9C", "305.1", set()),  # tobacco use disorder
    ("I9C", "305.00", {C.SUBSTANCE_USE}),
    ("I9C", "296.30", {C.MENTAL_HEALTH}),
    ("I9C", "290.0", set()),  # senile dementia
    ("I9C", "042", {C.HIV_STI}),
    ("I9C", "V08", {C.HIV_STI}),
    ("I9C", "070.54", set()),  # chronic hepatitis C
    ("I9C", "V22.1", {C.REPRODUCTIVE}),
    ("I9C", "V30.00", set()),  # liveborn infant
    ("I9C", "V84.01", {C.GENETIC}),
    ("I9C", "V16.3", set()),  # family history of breast cancer
    # SNOMED CT
    (SCT, "66590003", {C.SUBSTANCE_USE}),  # alcohol dependence
    (SCT, "56294008", set()),  # nicotine dependence
    (SCT, "370143000", {C.MENTAL_HEALTH}),  # major depressive disorder
    (SCT, "52448006", set()),  # dementia
    (SCT, "2776000", set()),  # delirium
    (SCT, "86406008", {C.HIV_STI}),  # HIV infection
    (SCT, "76272004", {C.HIV_STI}),  # syphilis
    (SCT, "77386006", {C.REPRODUCTIVE}),  # pregnant
    (SCT, "60001007", set()),  # not pregnant
    # LOINC
    (LOINC, "56888-1", {C.HIV_STI}),  # HIV 1+2 Ab + p24 Ag
    (LOINC, "25836-8", {C.HIV_STI}),  # HIV 1 RNA viral load
    (LOINC, "24467-3", {C.HIV_STI}),  # CD4 count
    (LOINC, "20507-0", {C.HIV_STI}),  # RPR
    (LOINC, "21613-5", {C.HIV_STI}),  # chlamydia NAAT
    (LOINC, "43305-2", {C.HIV_STI}),  # gonorrhoea NAAT
    (LOINC, "16128-1", set()),  # hepatitis C Ab
    (LOINC, "8867-4", set()),  # heart rate
    (LOINC, "51969-4", {C.GENETIC}),  # genetic analysis report
    (LOINC, "33773-3", {C.GENETIC}),  # karyotype in amniotic fluid
    (LOINC, "33893-9", set()),  # karyotype in bone marrow: a leukaemia's
    (LOINC, "2106-3", set()),  # urine hCG without a result: a safety screen until it is positive
    # RxNorm
    (RXNORM, "1819", {C.SUBSTANCE_USE}),  # buprenorphine
    (RXNORM, "7243", {C.SUBSTANCE_USE}),  # naltrexone
    (RXNORM, "6813", set()),  # methadone: also an analgesic
    (RXNORM, "7242", set()),  # naloxone
    (RXNORM, "1433868", {C.HIV_STI}),  # dolutegravir
    (RXNORM, "68244", set()),  # lamivudine: hepatitis B too
    (RXNORM, "2626", {C.MENTAL_HEALTH}),  # clozapine
    (RXNORM, "51272", set()),  # quetiapine: ICU delirium and sleep
    # WHO ATC
    (ATC, "N07BC02", {C.SUBSTANCE_USE}),  # methadone for opioid dependence
    (ATC, "N02AC52", set()),  # methadone as an analgesic
    (ATC, "J05AR03", {C.HIV_STI}),  # tenofovir/emtricitabine (PrEP)
    (ATC, "J05AF05", set()),  # lamivudine
    (ATC, "J05AE30", set()),  # nirmatrelvir/ritonavir
    (ATC, "N06AB06", {C.MENTAL_HEALTH}),  # sertraline
    (ATC, "N05AH04", set()),  # quetiapine
    (ATC, "G03AA07", {C.REPRODUCTIVE}),  # levonorgestrel and ethinylestradiol
    (ATC, "G03CA03", set()),  # estradiol (menopause)
    # HL7 v3 sensitivity labels
    ("http://terminology.hl7.org/CodeSystem/v3-ActCode", "ETH", {C.SUBSTANCE_USE}),
    ("http://terminology.hl7.org/CodeSystem/v3-ActCode", "PSYTHPN", {C.MENTAL_HEALTH, C.PSYCHOTHERAPY_NOTES}),
    ("http://terminology.hl7.org/CodeSystem/v3-ActCode", "GDIS", {C.GENETIC}),
    ("http://terminology.hl7.org/CodeSystem/v3-ActCode", "STD", {C.HIV_STI}),
    ("urn:oid:2.16.840.1.113883.5.4", "SEX", {C.REPRODUCTIVE}),
    ("http://terminology.hl7.org/CodeSystem/v3-ActCode", "IMP", set()),  # inpatient encounter
    # unknown systems are no evidence, whatever the code
    ("http://example.org/local-codes", "F10.20", set()),
    (None, "F10.20", set()),
]


@pytest.mark.parametrize(("system", "code", "expected"), CASES, ids=[f"{s}|{c}" for s, c, _ in CASES])
def test_code_categories(system, code, expected):
    assert categories(system, code) == expected


def test_every_system_and_category_has_a_listed_positive_case():
    covered = {(system_of(s), c) for s, code, cats in CASES for c in cats}
    listed = {(g.system, g.category) for g in GROUPS}
    listed |= {(CodeSystem.ICD10CM, c) for *_, c in RANGES} | {(CodeSystem.ICD9CM, c) for *_, c in ICD9_RANGES}
    assert listed - covered == {(CodeSystem.LOINC, C.REPRODUCTIVE)}  # needs a result: the test below


def test_pregnancy_test_needs_a_positive_result():
    assert categories(LOINC, "2106-3", result=Result.POSITIVE) == {C.REPRODUCTIVE}
    assert categories(LOINC, "2106-3", result=Result.NEGATIVE) == set()
    assert result_of(["NEG"]) is Result.NEGATIVE and result_of(["POS"]) is Result.POSITIVE
    assert result_of([], ["Negative"]) is Result.NEGATIVE and result_of([], ["positive"]) is Result.POSITIVE
    assert result_of([], ["Not detected."]) is Result.NEGATIVE and result_of([], ["Post-void"]) is Result.UNKNOWN
    assert result_of(["POS", "NEG"]) is Result.NEGATIVE  # contradictory flags are no positive
    assert result_of([], ["patient denies any chance of being pregnant; positive attitude"]) is Result.UNKNOWN


def test_withdrawn_and_somatic_codes_are_no_evidence():
    assert categories(ICD10, "B20", withdrawn=True) == set()
    evidence = classify_codes([Coded(ICD10, "B20", withdrawn=True), Coded(ICD10, "I10", withdrawn=True)])
    assert evidence.dropped == {"withdrawn": 1}  # only codes of a category are counted
    assert categories(LOINC, "51969-4", somatic=True) == set()


def test_evidence_names_groups_never_codes():
    record = classify_codes([Coded(ICD10, "F11.20"), Coded(RXNORM, "1819")]).as_record()
    assert record == {
        "found": {"substance_use": ["icd10cm.F10-F16", "rxnorm.oud_aud_medication"]},
        "dropped": {},
    }


HL7_ORU = (
    "\r".join(
        [
            "MSH|^~\\&|LAB|GH|EHR|GH|202401011200||ORU^R01^ORU_R01|M1|P|2.5.1",
            "PID|1||123^^^GH^MR||Doe^Jane||19800101|F",
            "OBR|1|||24467-3^^LN",
            "OBX|1|NM|25836-8^^LN||40|copies/mL|||||F",
            "OBX|2|ST|2106-3^^LN||Negative||||||F",
            "OBX|3|CWE|2106-3^^LN||10828004^^SCT||||||F",
            "OBX|4|NM|20507-0^^LN||1||||||W",
            "DG1|1||F33.1^^I10||20240101|F",
            "DG1|2|I9|304.00||20240101|F",
            "DG1|3||F20.9||20240101|F|||||||||||||||D",
            "RXE|1^^^20240101|N07BC51^^WC|8||mg",
        ]
    )
    + "\r"
)


def test_hl7_reader_finds_coded_fields_results_and_withdrawals():
    message = Hl7Message(HL7_ORU)
    evidence = classify_codes(codes_in_hl7(message.segments, message.delimiters.unescape))
    assert evidence.found == {
        C.HIV_STI: {"loinc.cd4", "loinc.hiv_test"},
        C.REPRODUCTIVE: {"loinc.pregnancy_test"},  # OBX 3 only: its coded result is positive; OBX 2 is negative
        C.MENTAL_HEALTH: {"icd10cm.F20-F48"},  # F33.1; DG1 3 (F20.9) is deleted (DG1-21 = D)
        C.SUBSTANCE_USE: {"icd9cm.303-304", "atc.oud_aud_medication"},  # DG1-2 names ICD-9 for DG1 2
    }
    assert evidence.dropped == {"withdrawn": 2}  # the RPR posted as wrong (OBX-11 W), the deleted DG1


def fhir_bundle(*resources: dict) -> dict:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def condition(code: str, system: str = ICD10, **extra) -> dict:
    return {
        "resourceType": "Condition",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": system, "code": code}]},
        **extra,
    }


def status(element: str, code: str) -> dict:
    systems = {"verificationStatus": "condition-ver-status", "clinicalStatus": "condition-clinical"}
    return {
        element: {"coding": [{"system": f"http://terminology.hl7.org/CodeSystem/{systems[element]}", "code": code}]}
    }


def test_fhir_reader_honours_verification_and_keeps_history():
    refuted = condition("B20", **status("verificationStatus", "refuted"))
    error = condition("F10.20", **status("verificationStatus", "entered-in-error"))
    resolved = condition("O80", **status("clinicalStatus", "resolved"))  # a past delivery: still her own history
    remission = condition("F11.21", **status("clinicalStatus", "remission"))  # OUD in remission: Part 2 covers it
    evidence = classify_codes(codes_in_fhir(fhir_bundle(refuted, error, resolved, remission)))
    assert evidence.categories == {C.REPRODUCTIVE, C.SUBSTANCE_USE}
    assert evidence.found[C.SUBSTANCE_USE] == {"icd10cm.F10-F16"}
    assert evidence.dropped == {"withdrawn": 2}


def test_fhir_reader_skips_relatives_allergies_and_definitions_and_reads_labels_and_medications():
    family = {
        "resourceType": "FamilyMemberHistory",
        "status": "completed",
        "patient": {"reference": "Patient/p1"},
        "relationship": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "MTH"}]},
        "condition": [{"code": {"coding": [{"system": SCT, "code": "35489007"}]}}],
    }
    allergy = {
        "resourceType": "AllergyIntolerance",
        "patient": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": RXNORM, "code": "1819"}]},
    }
    not_taken = {
        "resourceType": "MedicationStatement",
        "status": "not-taken",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "2626"}]},
    }
    taking = {
        "resourceType": "MedicationStatement",
        "status": "active",
        "subject": {"reference": "Patient/p1"},
        "medicationReference": {"reference": "#m1"},
        "contained": [
            {"resourceType": "Medication", "id": "m1", "code": {"coding": [{"system": RXNORM, "code": "1433868"}]}}
        ],
    }
    labelled = {
        "resourceType": "Observation",
        "status": "final",
        "meta": {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "ETH"}]},
        "code": {"text": "note"},
    }
    evidence = classify_codes(codes_in_fhir(fhir_bundle(family, allergy, not_taken, taking, labelled)))
    assert evidence.found == {C.HIV_STI: {"rxnorm.antiretroviral"}, C.SUBSTANCE_USE: {"v3.label_substance_use"}}


def test_fhir_contained_resources_share_their_containers_withdrawal_and_skipping():
    not_taken = {
        "resourceType": "MedicationStatement",
        "status": "not-taken",
        "medicationReference": {"reference": "#m"},
        "contained": [
            {"resourceType": "Medication", "id": "m", "code": {"coding": [{"system": RXNORM, "code": "1819"}]}}
        ],
    }
    relative = {"resourceType": "FamilyMemberHistory", "contained": [condition("F32.9")]}
    evidence = classify_codes(codes_in_fhir(fhir_bundle(not_taken, relative)))
    assert evidence.categories == set() and evidence.dropped == {"withdrawn": 1}


def test_fhir_observation_results_and_genomic_source():
    def observation(code: str, **extra) -> dict:
        return {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": code}]},
            **extra,
        }

    positive = observation("2106-3", valueCodeableConcept={"coding": [{"system": SCT, "code": "10828004"}]})
    negative = observation(
        "2106-3",
        interpretation=[
            {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "NEG"}
                ]
            }
        ],
    )
    somatic = observation(
        "69548-6",
        component=[
            {
                "code": {"coding": [{"system": LOINC, "code": "48002-0"}]},
                "valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA6684-0"}]},
            }
        ],
    )
    assert classify_codes(codes_in_fhir(positive)).categories == {C.REPRODUCTIVE}
    assert classify_codes(codes_in_fhir(negative)).categories == set()
    assert classify_codes(codes_in_fhir(somatic)).categories == set()
    assert classify_codes(codes_in_fhir(observation("69548-6"))).categories == {C.GENETIC}
    error = observation("56888-1", status="entered-in-error")
    assert classify_codes(codes_in_fhir(error)).categories == set()


SCHEMA = {
    "type": "record",
    "name": "Encounter",
    "fields": [
        {"name": "dx", "type": {"type": "array", "items": "string"}, "phi": "NONE", "code_system": "icd-10-cm"},
        {
            "name": "meds",
            "type": [
                "null",
                {
                    "type": "array",
                    "items": {
                        "type": "record",
                        "name": "Med",
                        "fields": [{"name": "rxcui", "type": "string", "phi": "NONE", "code_system": RXNORM}],
                    },
                },
            ],
        },
        {"name": "note", "type": ["null", "string"]},
    ],
}


def test_avro_code_fields_and_values():
    fields = code_fields("encounter", SCHEMA)
    assert fields == ((("dx",), CodeSystem.ICD10CM), (("meds", "rxcui"), CodeSystem.RXNORM))
    record = {"dx": ["I10", "Z21"], "meds": [{"rxcui": "1819"}, {"rxcui": "6918"}], "note": "F10.20"}
    evidence = classify_codes(codes_in_record(fields, record))
    assert evidence.categories == {C.HIV_STI, C.SUBSTANCE_USE}  # the note is text: read by the text evidence
    assert classify_codes(codes_in_record(fields, {"dx": [], "meds": None})).categories == set()


def test_avro_unknown_code_system_is_refused_at_load():
    bad = {"type": "record", "name": "R", "fields": [{"name": "c", "type": "string", "code_system": "icd-11"}]}
    with pytest.raises(SchemaError, match="code_system 'icd-11'"):
        code_fields("r", bad)
