"""The scanning helpers of the recognizers find what the plain regexes they stand for find."""

from __future__ import annotations

import random
import re

from pipeline.core.detection.base import Doc, Gate, matches_at, words_not_after

_WORDS = ["Drs", "Dr", "Mr", "Mrs", "Ms", "Miss", "Doctor", "d.o", "a+b", "March", "Mar", "May"]
_TEXT = "Mrs. Doe and Dr. Roe, Drs Lee; xMr Doctor; d.o a+b March 3 Mar. May ms MRS Mayday _May 9May"


def test_words_not_after_matches_as_the_leading_look_behind_does() -> None:
    plain = re.compile(r"(?<![\w])(?:" + "|".join(re.escape(w) for w in _WORDS) + r")\.?\s")
    fast = re.compile(words_not_after(_WORDS) + r"\.?\s")
    rng = random.Random(29)
    texts = [_TEXT, *("".join(rng.choice(_TEXT) for _ in range(300)) for _ in range(50))]
    assert [m.span() for m in fast.finditer(_TEXT)]
    for text in texts:
        assert [m.span() for m in fast.finditer(text)] == [m.span() for m in plain.finditer(text)]


def test_matches_at_equals_finditer_given_every_possible_start() -> None:
    regex = re.compile(r"\b(?:seen\s+by|wife|dr)\b[ \t]*")
    text = "seen by dr wife seen by  seen byx wife,wife"
    starts = [m.start() for m in re.finditer(r"(?=\b(?:seen\s+by|wife|dr))", text)]
    assert [m.span() for m in matches_at(regex, text, starts)] == [m.span() for m in regex.finditer(text)] != []


def test_a_lowered_gate_lets_every_non_ascii_text_through_and_reads_ascii_case_insensitively() -> None:
    gate = Gate(re.compile("box"), lowered=True)
    assert gate.passes(Doc.of("P.O. BOX 12")) and not gate.passes(Doc.of("no match here"))
    assert gate.passes(Doc.of("no match here, caf\u00e9"))
    words = Gate(words=("liv", "born"))
    assert words.passes(Doc.of("LIVES IN TOWN")) and not words.passes(Doc.of("elsewhere"))


def test_a_date_pattern_over_the_lowered_copy_matches_as_the_case_insensitive_one() -> None:
    from pipeline.core.detection.recognizers.dates import DateRecognizer

    patterns = {name: regex for name, regex, _ in DateRecognizer._patterns}
    base = "In March of 2022, nov. 2016, SEPT 2019; Sept. 2020 xmar 2001 Marchx 2019 Mayo 2010 DEC,2011 jun\t\n2020 "
    rng = random.Random(3)
    texts = [base, base.upper(), *("".join(rng.choice(base) for _ in range(400)) for _ in range(60))]
    for name, lowered in DateRecognizer._lowered.items():
        found = 0
        for text in texts:
            plain = [(m.span(), m.span("mon"), m.span("y")) for m in patterns[name].finditer(text)]
            assert [(m.span(), m.span("mon"), m.span("y")) for m in lowered.finditer(Doc.of(text).lower)] == plain
            found += len(plain)
        assert found >= 8, name  # the texts hold matches to compare


def test_recognizers_scanning_the_lowered_copy_find_what_their_case_insensitive_patterns_find() -> None:
    from pipeline.core.detection.recognizers.contact import PagerRecognizer
    from pipeline.core.detection.recognizers.wards import FacilityInitialsRecognizer

    base = (
        "pager 41772, PG 2-3456 p#2-3456 beeper #14490 Paged at 12345 bpr no. 4412 xp 1234 P 12-345 "
        "sent to GH. Transferred To the MGH, tx to bwh ER; from smc ew -> NWH at TSH 4.5 into Bch "
    )
    rng = random.Random(5)
    texts = [base, base.upper(), base.lower(), *("".join(rng.choice(base) for _ in range(300)) for _ in range(60))]
    for recognizer in (PagerRecognizer(), FacilityInitialsRecognizer()):
        found = 0
        for text in texts:
            spans = list(recognizer.find(Doc.of(text)))
            # A non-ASCII note is scanned with the case-insensitive pattern; the appended letter changes no match.
            assert spans == list(recognizer.find(Doc.of(text + " \u00e9"))), text
            found += len(spans)
        assert found >= 5, recognizer.name


def test_alternatives_grouped_by_first_letter_start_where_the_plain_alternation_starts() -> None:
    from pipeline.core.detection.base import by_first_letter
    from pipeline.core.detection.recognizers.names import NameRecognizer

    alternatives = [
        r"\b(?:seen|signed|spoke\s+with)\s+by\b\s*:?|\b(?:contact|cc)\s*:",
        r"\b(?:per|by)?[ \t]*(?:md|dr)\.?[ \t]+",
        r"(?:mr\s?#|m[|)]n|med(?:ical)?\s+rec|x\|y)(?![a-z])",
        r"(?:transport\s+|van\s+)?van|s/n|a/c|\(?pcp\)?",
        r"\b(?:|x)yz|retina(?:l)?\s+(?:scan|template)",
    ]
    plain = re.compile("(?=" + "|".join(f"(?:{a})" for a in alternatives) + ")")
    grouped = re.compile("(?=" + by_first_letter(alternatives) + ")")
    words = "seen by signed spoke with contact: cc: per md dr. mr# mr # m|n m)n medical rec x|y transport van van "
    words += "s/n a/c (pcp) yz xyz retinal scan retina template bymd xmd "
    rng = random.Random(12)
    texts = [words, *(" ".join(rng.choice([*words.split(), " ", "\t", ":"]) for _ in range(120)) for _ in range(80))]
    found = 0
    for text in texts:
        expected = [m.start() for m in plain.finditer(text)]
        assert [m.start() for m in grouped.finditer(text)] == expected, text
        found += len(expected)
    assert found > 1000
    cues = [cue.pattern for name, cue, _, _ in NameRecognizer._cued if name != "weak_intro"]
    plain_cues = re.compile("(?=" + "|".join(f"(?:{cue})" for cue in cues) + ")")
    for text in [*texts, _TEXT.lower(), "seen by dr lee; per md kim; wife mary; dear jo, d/w np ann"]:
        assert [m.start() for m in NameRecognizer._cue_starts.finditer(text)] == [
            m.start() for m in plain_cues.finditer(text)
        ]
