"""The synthetic clinical corpus: reproducible, exact gold spans, every PHI type, hard negatives, clean splits."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from pipeline.core.phi_types import PhiType
from pipeline.modelbuild.corpus import Split, as_documents, generate, generate_note
from pipeline.modelbuild.corpus import lexicon as lx
from pipeline.modelbuild.corpus.generator import ALL_STYLES, family
from pipeline.modelbuild.corpus.render import slots_of
from pipeline.modelbuild.corpus.templates import STYLES
from pipeline.modelbuild.corpus.values import PHI_MAKERS

N = 600


@pytest.fixture(scope="module")
def train_notes():
    return generate(N, seed=5, split=Split.TRAIN)


@pytest.fixture(scope="module")
def heldout_notes():
    return generate(N, seed=5, split=Split.HELDOUT)


def test_same_seed_same_corpus_and_notes_are_independent_of_count():
    first = generate(40, seed=11)
    again = generate(40, seed=11)
    assert [(n.text, n.spans) for n in first] == [(n.text, n.spans) for n in again]
    assert generate_note(11, Split.TRAIN, 17) == first[17]
    assert [n.text for n in generate(40, seed=12)] != [n.text for n in first]


def test_gold_spans_are_exact_sorted_and_trimmed(train_notes, heldout_notes):
    for note in train_notes + heldout_notes:
        previous_end = 0
        for span in note.spans:
            value = note.text[span.start : span.end]
            assert value and value == value.strip(), (note.id, span)
            assert span.start >= previous_end, f"{note.id}: overlapping spans"
            previous_end = span.end


def test_span_values_have_the_shape_of_their_type(train_notes):
    shapes = {
        PhiType.EMAIL: re.compile(r"^\S+@\S+\.\w+$"),
        PhiType.SSN: re.compile(r"^\d{3}[- ]?\d{2}[- ]?\d{4}$"),
        PhiType.IP: re.compile(r"^\d{1,3}(\.\d{1,3}){3}$"),
        PhiType.AGE: re.compile(r"^(9\d|1\d\d)$"),
    }
    for note in train_notes:
        for span in note.spans:
            if span.type in shapes:
                assert shapes[span.type].match(note.text[span.start : span.end]), (note.id, span.type)


def test_every_phi_type_appears_in_both_splits(train_notes, heldout_notes):
    for notes in (train_notes, heldout_notes):
        seen = Counter(s.type for n in notes for s in n.spans)
        assert set(PhiType) == set(seen), f"missing: {set(PhiType) - set(seen)}"


def test_every_style_is_produced_and_terse_styles_are_upper_case(train_notes):
    styles = Counter(n.style for n in train_notes)
    assert set(styles) == {s.name for s in ALL_STYLES}
    nursing = [n for n in train_notes if n.style == "nursing"]
    upper = [n for n in nursing if n.text == n.text.upper()]
    assert len(upper) >= 0.8 * len(nursing)


def test_progress_notes_are_a_large_share_of_the_corpus_and_mostly_not_phi(train_notes):
    progress = [n for n in train_notes if n.style in ("icu_progress", "ward_progress", "physician_progress")]
    assert len(progress) >= 0.25 * len(train_notes)
    text_chars = sum(len(n.text) for n in progress)
    phi_chars = sum(s.end - s.start for n in progress for s in n.spans)
    assert phi_chars < 0.1 * text_chars
    ward = [n for n in train_notes if n.style == "ward_progress"]
    assert sum(n.text == n.text.lower() for n in ward) >= 0.7 * len(ward)


def test_times_bare_years_and_ages_under_90_are_never_labelled(train_notes, heldout_notes):
    time_only = re.compile(r"(?i)^@?(?:[01]?\d|2[0-3]):?[0-5]\d(?:\s*[ap]\.?m\.?)?$|^\d{1,2}\s*[ap]\.?m\.?$")
    for note in (*train_notes, *heldout_notes):
        for span in note.spans:
            value = note.text[span.start : span.end]
            if span.type is PhiType.DATE:
                assert not time_only.match(value), (note.id, value)
                assert not re.fullmatch(r"(?:19|20)\d\d", value), (note.id, value)
            if span.type is PhiType.AGE and value.isdigit():
                assert int(value) >= 90, (note.id, value)


def test_hard_negatives_are_present_and_never_labelled(train_notes):
    text = "\n".join(n.text.lower() for n in train_notes)
    for needle in ("parkinson", "foley", "glasgow coma scale", "babinski", " mg ", "bp ", "gcs ", "wbc "):
        assert needle in text, needle
    for note in train_notes:
        for match in re.finditer(r"\bBP (\d{2,3}/\d{2,3})", note.text, re.IGNORECASE):
            assert not any(s.start < match.end(1) and match.start(1) < s.end for s in note.spans), note.id
        for match in re.finditer(r"\b(parkinson|foley|babinski)\b", note.text, re.IGNORECASE):
            assert not any(s.start < match.end() and match.start() < s.end for s in note.spans), note.id


def test_names_that_are_words_appear_both_as_names_and_as_words(train_notes):
    as_names = {
        note.text[s.start : s.end].lower() for note in train_notes for s in note.spans if s.type is PhiType.NAME
    }
    words = {w.lower() for w in lx.halve(lx.WORD_NAMES, Split.TRAIN)}
    assert len(words & {part for name in as_names for part in name.split()}) >= 5
    pattern = re.compile(r"\b(" + "|".join(sorted(w.lower() for w in lx.WORD_NAMES)) + r")\b", re.IGNORECASE)
    unlabelled: set[str] = set()
    for note in train_notes:
        for match in pattern.finditer(note.text):
            if not any(s.start < match.end() and match.start() < s.end for s in note.spans):
                unlabelled.add(match.group(1).lower())
    assert len(unlabelled) >= 10, sorted(unlabelled)


def test_relatives_and_clinicians_keep_their_titles_outside_the_span(train_notes):
    found_relative = found_doctor = False
    for note in train_notes:
        for span in note.spans:
            before = note.text[max(0, span.start - 8) : span.start].lower()
            if span.type is PhiType.NAME and re.search(r"(husband|wife|dtr|daughter) $", before):
                found_relative = True
            if span.type is PhiType.NAME and re.search(r"dr\.? $", before):
                found_doctor = True
                assert not note.text[span.start : span.end].lower().startswith("dr")
    assert found_relative and found_doctor


def test_partial_dates_are_labelled_and_years_and_times_appear_unlabelled(train_notes):
    values = [n.text[s.start : s.end] for n in train_notes for s in n.spans if s.type is PhiType.DATE]
    assert any(re.fullmatch(r"\d{1,2}/\d{1,2}", v) for v in values)
    text = "\n".join(n.text for n in train_notes)
    assert re.search(r"\b(19|20)\d\d\b", text)
    assert re.search(r"\b\d{1,2}:\d{2}\b", text)


def test_held_out_templates_and_name_pools_are_disjoint_from_training(train_notes, heldout_notes):
    for style in STYLES:
        for section in ("headers", "body", "footers"):
            train_ids = {i for i, _ in family(style, section, Split.TRAIN)}
            held_ids = {i for i, _ in family(style, section, Split.HELDOUT)}
            assert not train_ids & held_ids
    used_train = {t for n in train_notes for t in n.templates}
    used_held = {t for n in heldout_notes for t in n.templates}
    assert used_held and not used_train & used_held
    train_lex, held_lex = lx.Lexicon.for_split(Split.TRAIN), lx.Lexicon.for_split(Split.HELDOUT)
    pools = ("first_names", "last_names", "word_names", "cities", "street_names", "hospital_stems", "ward_stems")
    for pool in (*pools, "world_cities", "world_streets"):
        train_pool, held_pool = set(getattr(train_lex, pool)), set(getattr(held_lex, pool))
        assert held_pool and not train_pool & held_pool, pool
    train_surnames = set(train_lex.last_names) | set(train_lex.word_names)
    held_names = {
        n.text[s.start : s.end]
        for n in heldout_notes
        for s in n.spans
        if s.type is PhiType.NAME and n.style != "portal"
    }
    single_words = {v for v in held_names if " " not in v and "." not in v and v.istitle()}
    assert single_words and not single_words & train_surnames


def test_foreign_addresses_type_street_town_and_postcode_but_not_the_country():
    import random

    from pipeline.modelbuild.corpus.values import world_address

    lex = lx.Lexicon.for_split(Split.TRAIN)
    countries = set()
    for seed in range(200):
        segs = world_address(random.Random(seed), lex)
        types = [t for _, t in segs if t is not None]
        assert types[0] is PhiType.STREET and sorted(types[1:]) == sorted([PhiType.CITY, PhiType.ZIP])
        untyped = " ".join(text for text, t in segs if t is None)
        countries |= {c for c in ("Finland", "Portugal", "Iceland", "Canada") if c in untyped}
        assert not re.search(r"\d", untyped)  # every number of the address is in a typed span
    assert countries


def test_relative_time_words_are_never_labelled(train_notes):
    import random

    from pipeline.modelbuild.corpus.negatives import relative_time

    words = {relative_time(random.Random(i)) for i in range(200)}
    seen = 0
    for note in train_notes:
        for word in words:
            for match in re.finditer(re.escape(word), note.text, flags=re.IGNORECASE):
                seen += 1
                assert not any(s.start < match.end() and match.start() < s.end for s in note.spans), word
    assert seen


def test_every_template_slot_has_a_maker():
    from pipeline.modelbuild.corpus.negatives import NEG_MAKERS

    for style in STYLES:
        for template in style.headers + style.body + style.footers:
            for slot in slots_of(template):
                assert slot in PHI_MAKERS or slot in NEG_MAKERS, (style.name, slot)


def test_as_documents_keeps_offsets_and_types(train_notes):
    docs = as_documents(train_notes[:20])
    for note, doc in zip(train_notes[:20], docs, strict=True):
        assert doc.text == note.text
        assert [(g.start, g.end, g.type) for g in doc.spans] == [(s.start, s.end, s.type) for s in note.spans]
