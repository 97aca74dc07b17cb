"""Splits of a site's notes that never put one patient on both sides.

Groups (patients) are ordered by a seeded hash, then dealt out so that the parts hold about the same
number of notes: a patient with many notes does not tip a fold. Same notes and seed, same split.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol, TypeVar


class Grouped(Protocol):
    @property
    def group(self) -> str: ...


T = TypeVar("T", bound=Grouped)


def _groups(notes: Sequence[T], seed: int) -> list[list[T]]:
    by_group: dict[str, list[T]] = defaultdict(list)
    for note in notes:
        by_group[note.group].append(note)
    order = sorted(by_group, key=lambda g: hashlib.sha256(f"{seed}:{g}".encode()).hexdigest())
    return [by_group[g] for g in order]


def group_folds(notes: Sequence[T], folds: int, seed: int = 13) -> list[tuple[list[T], list[T]]]:
    """``folds`` (train, test) pairs; every note is tested once, and a patient's notes are on one side.

    Groups are dealt, largest first, to the fold with the fewest notes so far (ties to the lowest fold)."""
    groups = _groups(notes, seed)
    if folds < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    if len(groups) < folds:
        raise ValueError(f"{len(groups)} patient groups cannot fill {folds} folds; use fewer folds")
    parts: list[list[T]] = [[] for _ in range(folds)]
    for group in sorted(groups, key=len, reverse=True):
        smallest = min(range(folds), key=lambda i: (len(parts[i]), i))
        parts[smallest].extend(group)
    return [([n for j, p in enumerate(parts) if j != i for n in p], parts[i]) for i in range(folds)]


def hold_out(notes: Sequence[T], fraction: float, seed: int = 13) -> tuple[list[T], list[T]]:
    """(train, held out): whole patients, in hash order, held out until about ``fraction`` of the notes are.

    At least one group stays on each side when there are two or more groups; with a single group
    nothing can be held out without sharing a patient, which is an error."""
    if not 0.0 < fraction < 1.0:
        raise ValueError("the held-out fraction must be between 0 and 1")
    groups = _groups(notes, seed)
    if len(groups) < 2:
        raise ValueError("all notes belong to one patient: nothing can be held out without sharing that patient")
    target = fraction * len(notes)
    held: list[T] = []
    groups_held = 0
    for group in groups[:-1]:
        if len(held) >= target:
            break
        held.extend(group)
        groups_held += 1
    kept = [n for g in groups[groups_held:] for n in g]
    return kept, held


def take_groups(notes: Sequence[T], count: int, seed: int = 13) -> list[T]:
    """``count`` notes spread over the patients: one note of each patient in hash order, then the next
    note of each, and so on (a site labelling N notes labels some of many patients' notes, and the
    adaptation can then hold out whole patients of them); all notes when ``count`` reaches their number."""
    groups = _groups(notes, seed)
    out: list[T] = []
    depth = 0
    while len(out) < min(count, len(notes)):
        for group in groups:
            if depth < len(group) and len(out) < count:
                out.append(group[depth])
        depth += 1
    return out
