"""A site lexicon mined from labelled notes, written as a policy file (deny list, allow list).

Deny list: words and whole values the site's labellers marked as PHI (staff names, facility initials,
wards named after places) that are PHI wherever they occur in the site's notes: at least ``min_count``
labelled occurrences, and at least ``purity`` of all their whole-word occurrences inside a labelled
span. Clinical vocabulary and everyday words (the shipped lexicons) never enter it, whatever the site's
counts say, so a deny list cannot destroy a drug or an abbreviation elsewhere.

Allow list: values the detector flags in the site's notes that the labellers never marked, seen at
least ``min_count`` times and never inside a labelled span (device brands, unit names, eponyms the site
uses). The policy's allow list drops a span only when its whole text is the term.

The file holds the site's own names, so it is written readable by its owner only; keep it with the
notes it came from.
"""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipeline.core.detection.lexicons import lexicons
from pipeline.core.phi_types import PhiType
from pipeline.core.policy import parse_policy
from pipeline.core.spans import Span
from pipeline.modelbuild.adapt.corpus import SiteNote

_WORD = re.compile(r"[^\W\d_][\w'.-]*[^\W_]|[^\W\d_]{2,}")
MIN_CHARS = 3


@dataclass(frozen=True)
class SiteLexicon:
    """Mined terms: deny terms by PHI type, allow terms, and how they were chosen."""

    deny: dict[PhiType, list[str]] = field(default_factory=dict)
    allow: list[str] = field(default_factory=list)
    settings: dict[str, float] = field(default_factory=dict)

    @property
    def deny_count(self) -> int:
        return sum(len(v) for v in self.deny.values())


def _term_regex(term: str) -> re.Pattern[str]:
    # the same whole-word, case-insensitive match as the policy's TermList
    return re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.IGNORECASE)


def _inside(start: int, end: int, spans: Sequence[tuple[int, int]]) -> bool:
    return any(s <= start and end <= e for s, e in spans)


def _is_vocabulary(term: str) -> bool:
    words = lexicons()
    return any(words.is_clinical(w) or words.is_vocabulary(w) for w in term.split())


def _candidates(note: SiteNote) -> dict[str, PhiType]:
    """Each labelled value (collapsed whitespace) and each word of it, lower-cased, with its PHI type."""
    out: dict[str, PhiType] = {}
    for g in note.gold:
        if g.type is None:
            continue
        value = " ".join(note.text[g.start : g.end].split()).strip(" .,;:()")
        for term in {value, *(m.group(0) for m in _WORD.finditer(value))}:
            if len(term) >= MIN_CHARS and any(c.isalpha() for c in term):
                out.setdefault(term.casefold(), g.type)
    return out


def mine_deny(notes: Sequence[SiteNote], min_count: int = 2, purity: float = 0.95) -> dict[PhiType, list[str]]:
    """Terms that are labelled PHI in the site's notes nearly every time they occur (see the module)."""
    types: dict[str, Counter[PhiType]] = defaultdict(Counter)
    for note in notes:
        for term, phi_type in _candidates(note).items():
            types[term][phi_type] += 1
    texts = [(n.text, [(g.start, g.end) for g in n.gold if g.type is not None]) for n in notes]
    deny: dict[PhiType, list[str]] = defaultdict(list)
    for term in sorted(types):
        if _is_vocabulary(term):
            continue
        pattern = _term_regex(term)
        labelled = total = 0
        for text, gold in texts:
            for m in pattern.finditer(text):
                total += 1
                labelled += _inside(m.start(), m.end(), gold)
        if labelled >= min_count and labelled >= purity * total:
            deny[types[term].most_common(1)[0][0]].append(term)
    return dict(deny)


def mine_allow(
    notes: Sequence[SiteNote], found: Sequence[Sequence[Span]], deny: dict[PhiType, list[str]], min_count: int = 3
) -> list[str]:
    """Values the detector flagged at least ``min_count`` times in ``notes`` that were never labelled there."""
    flagged: Counter[str] = Counter()
    for note, spans in zip(notes, found, strict=True):
        labelled = [(g.start, g.end) for g in note.gold]
        for s in spans:
            if not any(s.start < e and b < s.end for b, e in labelled):
                value = " ".join(note.text[s.start : s.end].split())
                if len(value) >= MIN_CHARS:
                    flagged[value.casefold()] += 1
    denied = {t for terms in deny.values() for t in terms}
    allow = []
    for term, count in sorted(flagged.items()):
        if count < min_count or term in denied:
            continue
        pattern = _term_regex(term)
        gold_hit = any(
            any(_inside(m.start(), m.end(), [(g.start, g.end) for g in n.gold]) for m in pattern.finditer(n.text))
            or any(term in " ".join(n.text[g.start : g.end].split()).casefold() for g in n.gold)
            for n in notes
        )
        if not gold_hit:
            allow.append(term)
    return allow


def policy_yaml(lexicon: SiteLexicon, header: str) -> str:
    """The policy file text: extends the Safe Harbor defaults, adds the deny and allow lists."""
    body: dict[str, object] = {"version": 1, "extends": "safe-harbor"}
    if lexicon.deny:
        body["deny"] = [{"type": t.value, "terms": terms} for t, terms in sorted(lexicon.deny.items()) if terms]
    if lexicon.allow:
        body["allow"] = {"terms": lexicon.allow}
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    return comment + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)


def write_policy(lexicon: SiteLexicon, path: Path, header: str) -> Path:
    """Write the policy file (owner-only permissions) after checking it loads as ``policy check`` loads it."""
    text = policy_yaml(lexicon, header)
    parse_policy(text, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path
