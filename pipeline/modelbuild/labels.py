"""The model's output classes: 'O' plus B- and I- tags for every PHI type, in a fixed order.

The order is the vocabulary order of :class:`PhiType`, so class ids are stable between builds, and the
tag names are our own type names, which :mod:`pipeline.runtime.labelmap` reads without any mapping table.
"""

from __future__ import annotations

from pipeline.core.phi_types import PhiType

OUTSIDE = "O"


def bio_labels() -> list[str]:
    """['O', 'B-NAME', 'I-NAME', 'B-STREET', ...] for every PHI type."""
    labels = [OUTSIDE]
    for phi_type in PhiType:
        labels += [f"B-{phi_type.value}", f"I-{phi_type.value}"]
    return labels


def label_ids() -> dict[str, int]:
    return {label: index for index, label in enumerate(bio_labels())}
