"""Loaders on small hand-written fixtures, and the scoring arithmetic on cases worked out by hand."""

import json
from pathlib import Path

import pytest

from pipeline.core.detection import RuleDetector
from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span
from pipeline.modelbuild.evaluation import (
    CorpusError,
    Document,
    GoldSpan,
    format_table,
    load_corpus,
    score_corpus,
    write_missed,
)

TEXT = "Patient John Smith called 617-555-0134 on 03/14/2026."
#       0123456789012345678901234567890123456789012345678901
GOLD = (
    GoldSpan(8, 18, "PATIENT", PhiType.NAME),
    GoldSpan(26, 38, "PHONE", PhiType.PHONE),
    GoldSpan(42, 52, "DATE", PhiType.DATE),
)


def test_strict_overlap_and_token_levels():
    doc = Document("d1", TEXT, GOLD)
    preds = [
        Span(8, 12, PhiType.NAME),  # partial: overlap hit, strict miss
        Span(26, 38, PhiType.PHONE),  # exact
        Span(0, 7, PhiType.NAME),  # false positive
    ]
    scores = score_corpus([doc], [preds])
    assert scores.strict["NAME"].tp_pred == 0 and scores.overlap["NAME"].tp_pred == 1
    assert scores.overlap["NAME"].precision == 0.5 and scores.overlap["NAME"].recall == 1.0
    assert scores.strict["PHONE"].f1 == 1.0
    assert scores.overlap["DATE"].recall == 0.0
    # tokens: John(hit) Smith(miss) 617 555 0134 (hits) 03 14 2026 (misses) Patient (FP)
    assert scores.token["NAME"].tp_gold == 1 and scores.token["NAME"].gold == 2 and scores.token["NAME"].pred == 2
    assert scores.token["ANY"].gold == 8 and scores.token["ANY"].tp_gold == 4
    assert [m.type for m in scores.missed] == [PhiType.DATE]


def test_wrong_type_counts_for_any_but_not_for_the_type():
    doc = Document("d", TEXT, GOLD[1:2])
    scores = score_corpus([doc], [[Span(26, 38, PhiType.FAX)]])
    assert scores.overlap["PHONE"].recall == 0.0
    assert scores.overlap["ANY"].recall == 1.0
    assert scores.missed[0].predicted_as == ("FAX",)


def test_aside_labels_are_excluded_from_precision_and_reported_apart():
    doc = Document("d", "Card 4111111111111111 ok", (GoldSpan(5, 21, "CREDIT_CARD", None),))
    scores = score_corpus([doc], [[Span(5, 21, PhiType.ACCOUNT)]])
    assert "ACCOUNT" not in scores.overlap or scores.overlap["ACCOUNT"].pred == 0
    assert scores.aside["CREDIT_CARD"].tp_gold == 1


def test_address_parts_are_joined_for_corpora_that_label_whole_addresses():
    text = "at 42 Elm Street, Springfield, IL 62704"
    doc = Document("d", text, (GoldSpan(3, 39, "STREET_ADDRESS", PhiType.STREET),), merge_address=True)
    preds = RuleDetector().detect(text)
    assert {s.type for s in preds} == {PhiType.STREET, PhiType.CITY, PhiType.ZIP}
    scores = score_corpus([doc], [preds])
    assert scores.overlap["STREET"].precision == 1.0 and scores.overlap["STREET"].recall == 1.0


def test_city_and_zip_inside_a_gold_whole_address_count_as_that_address():
    text = "6614 Luite tee 87\n Apt. 931\n Salumae\n Estonia 62031"
    gold = (GoldSpan(0, len(text), "STREET_ADDRESS", PhiType.STREET),)
    doc = Document("d", text, gold, merge_address=True)
    preds = [Span(29, 36, PhiType.CITY), Span(46, 51, PhiType.ZIP)]
    scores = score_corpus([doc], [preds])
    assert scores.overlap["STREET"].precision == 1.0 and scores.overlap["STREET"].recall == 1.0
    assert "ZIP" not in scores.overlap or scores.overlap["ZIP"].pred == 0
    # without the whole-address convention they are wrong types
    plain = score_corpus([Document("d", text, gold)], [preds])
    assert plain.overlap["STREET"].recall == 0.0


def test_type_families_count_any_member_type():
    text = "moved to Allston; MRN 12345; seen at Holyoke"
    gold = (
        GoldSpan(9, 16, "LOCATION", PhiType.LOCATION),
        GoldSpan(22, 27, "ID", PhiType.ID),
        GoldSpan(37, 44, "HOSPITAL", PhiType.FACILITY),
    )
    preds = [Span(9, 16, PhiType.CITY), Span(22, 27, PhiType.MRN), Span(37, 44, PhiType.NAME)]
    scores = score_corpus([Document("d", text, gold)], [preds])
    assert scores.overlap["LOCATION"].recall == 0.0 and scores.overlap["ID"].recall == 0.0
    assert scores.overlap["LOCATIONS"].gold == 2 and scores.overlap["LOCATIONS"].tp_gold == 1
    assert scores.overlap["IDENTIFIERS"].recall == 1.0 and scores.overlap["IDENTIFIERS"].precision == 1.0
    assert scores.types()[-4:] == ["LOCATIONS", "IDENTIFIERS", "ALL", "ANY"]
    assert "LOCATIONS" in format_table(scores)


def test_missed_file_and_table(tmp_path):
    doc = Document("d1", TEXT, GOLD)
    scores = score_corpus([doc], [[]])
    path = tmp_path / "missed.jsonl"
    assert write_missed(path, scores, [doc]) == 3
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["type"] for r in rows] == ["DATE", "NAME", "PHONE"]
    assert rows[1]["text"] == "John Smith"
    table = format_table(scores)
    assert "NAME" in table and "ANY" in table


# --- loaders -----------------------------------------------------------------------------------


def test_jsonl_loader(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"id": "a", "text": TEXT, "spans": [{"start": 8, "end": 18, "type": "NAME"}]}) + "\n")
    docs = load_corpus(path, "jsonl")
    assert docs[0].spans == (GoldSpan(8, 18, "NAME", PhiType.NAME),)


def test_jsonl_loader_rejects_bad_offsets_and_labels(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"id": "a", "text": "abc", "spans": [{"start": 1, "end": 9, "type": "NAME"}]}) + "\n")
    with pytest.raises(CorpusError, match=r"line 1.*outside"):
        load_corpus(path, "jsonl")
    path.write_text(json.dumps({"id": "a", "text": "abc", "spans": [{"start": 0, "end": 1, "type": "WIZARD"}]}) + "\n")
    with pytest.raises(CorpusError, match="WIZARD"):
        load_corpus(path, "jsonl")


def test_brat_loader(tmp_path):
    (tmp_path / "n1.txt").write_text(TEXT)
    (tmp_path / "n1.ann").write_text(
        "T1\tPATIENT 8 18\tJohn Smith\nT2\tPHONE 26 38\t617-555-0134\n#1\tAnnotatorNotes T1\tx\n"
    )
    docs = load_corpus(tmp_path, "brat")
    assert [(s.start, s.end, s.type) for s in docs[0].spans] == [(8, 18, PhiType.NAME), (26, 38, PhiType.PHONE)]


def test_i2b2_loader(tmp_path):
    xml = (
        '<?xml version="1.0" encoding="UTF-8" ?>\n<deIdi2b2><TEXT><![CDATA[' + TEXT + "]]></TEXT><TAGS>"
        '<NAME id="P0" start="8" end="18" text="John Smith" TYPE="PATIENT" comment="" />'
        '<DATE id="P1" start="42" end="52" text="03/14/2026" TYPE="DATE" comment="" />'
        '<LOCATION id="P2" start="0" end="7" text="Patient" TYPE="COUNTRY" comment="" />'
        "</TAGS></deIdi2b2>"
    )
    (tmp_path / "r.xml").write_text(xml)
    docs = load_corpus(tmp_path / "r.xml", "i2b2")
    assert [(s.type, s.label) for s in docs[0].spans] == [
        (PhiType.NAME, "PATIENT"),
        (PhiType.DATE, "DATE"),
        (None, "COUNTRY"),
    ]


def test_presidio_loader_applies_safe_harbor_refinements(tmp_path):
    records = [
        {
            "full_text": "I am 45, born Monday, Mr. Lee is 93 and card 4111111111111111",
            "spans": [
                {"entity_type": "AGE", "entity_value": "45", "start_position": 5, "end_position": 7},
                {"entity_type": "DATE_TIME", "entity_value": "Monday", "start_position": 14, "end_position": 20},
                {"entity_type": "PERSON", "entity_value": "Lee", "start_position": 26, "end_position": 29},
                {"entity_type": "AGE", "entity_value": "93", "start_position": 33, "end_position": 35},
                {
                    "entity_type": "CREDIT_CARD",
                    "entity_value": "4111111111111111",
                    "start_position": 45,
                    "end_position": 61,
                },
            ],
        }
    ]
    path = tmp_path / "p.json"
    path.write_text(json.dumps(records))
    doc = load_corpus(path, "presidio")[0]
    assert [(s.label, s.type) for s in doc.spans] == [
        ("AGE_UNDER_90", None),
        ("DATE_YEAR_OR_WEEKDAY", None),
        ("PERSON", PhiType.NAME),
        ("AGE", PhiType.AGE),
        ("CREDIT_CARD", None),
    ]
    assert doc.merge_address and doc.aliases


@pytest.mark.parametrize(
    ("value", "phi"),
    [("Estonia", False), ("United States", False), ("SK", False), ("nan", False), ("ontario", False),
     ("Kenosha", True), ("New York", True), ("Goiânia", True)],
)  # fmt: skip
def test_presidio_loader_sets_aside_countries_and_states(tmp_path, value, phi):
    text = f"We moved here from {value}"
    record = {
        "full_text": text,
        "spans": [{"entity_type": "GPE", "entity_value": value, "start_position": 19, "end_position": len(text)}],
    }
    path = tmp_path / "p.json"
    path.write_text(json.dumps([record]))
    (span,) = load_corpus(path, "presidio")[0].spans
    assert (span.type is PhiType.CITY) is phi


def test_presidio_location_predictions_score_as_city(tmp_path):
    text = "We moved here from Kenosha"
    record = {
        "full_text": text,
        "spans": [{"entity_type": "GPE", "entity_value": "Kenosha", "start_position": 19, "end_position": 26}],
    }
    path = tmp_path / "p.json"
    path.write_text(json.dumps([record]))
    scores = score_corpus(load_corpus(path, "presidio"), [[Span(19, 26, PhiType.LOCATION)]])
    assert scores.overlap["CITY"].recall == 1.0


def test_unknown_format_and_missing_path():
    with pytest.raises(CorpusError, match="unknown corpus format"):
        load_corpus(Path("."), "csv")
    with pytest.raises(CorpusError, match="no such file"):
        load_corpus(Path("/nonexistent/corpus.jsonl"), "jsonl")


def test_clinical_words_destroyed_and_leaks_by_the_corpus_label():
    text = "Seen by Dr Lee, creatinine 1.4 from 2.1, wife Ann called."
    #       0123456789012345678901234567890123456789012345678901234567
    gold = (GoldSpan(11, 14, "HCPName", PhiType.NAME), GoldSpan(47, 50, "RelativeProxyName", PhiType.NAME))
    doc = Document("n1", text, gold)
    # The detector finds the clinician, misses the wife, and destroys '2' and '1' of the lab value.
    preds = [[Span(11, 14, PhiType.NAME, 0.9, "t"), Span(36, 39, PhiType.DATE, 0.9, "t")]]
    scores = score_corpus([doc], preds)
    assert scores.leak_free_by_label["HCPName"].tp_gold == 1
    assert scores.leak_free_by_label["RelativeProxyName"].tp_gold == 0
    # Outside gold: Seen, by, Dr, creatinine, 1, 4, from, 2, 1, wife, called.
    assert scores.clinical_tokens == 11
    assert scores.destroyed_tokens == 2
    assert scores.destroyed_per_10k == pytest.approx(10_000 * 2 / 11)
    figures = scores.as_dict()
    assert figures["clinical_words"]["destroyed"] == 2
    assert figures["leak_free_by_label"]["RelativeProxyName"]["leaked"] == 1
    assert "clinical words destroyed" in format_table(scores)


def test_punctuation_inside_a_gold_span_is_no_leak():
    text = "Call (617-555-0134) today."
    doc = Document("p", text, (GoldSpan(5, 19, "Phone", PhiType.PHONE),))
    scores = score_corpus([doc], [[Span(6, 18, PhiType.PHONE, 0.9, "t")]])
    assert scores.leak_free["ALL"].recall == 1.0


def test_physionet_labels_map_onto_phi_types(tmp_path):
    path = tmp_path / "notes.jsonl"
    text = "Dr Lee saw pt at GH on 3/4, born 1950."
    spans = [
        {"start": 3, "end": 6, "type": "HCPName"},
        {"start": 17, "end": 19, "type": "Location"},
        {"start": 23, "end": 26, "type": "Date"},
        {"start": 33, "end": 37, "type": "DateYear"},
    ]
    path.write_text(json.dumps({"id": "1-1", "text": text, "spans": spans}) + "\n")
    [doc] = load_corpus(path, "jsonl")
    assert [s.type for s in doc.spans] == [PhiType.NAME, PhiType.LOCATION, PhiType.DATE, None]
