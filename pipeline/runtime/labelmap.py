"""Reading a model's label map (``labels.json``) into BIO tags over our PHI types."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.detection.labels import map_label
from pipeline.core.errors import ConfigError
from pipeline.core.phi_types import PhiType, UnknownPhiTypeError


@dataclass(frozen=True, slots=True)
class Tag:
    """One output class: its BIO prefix ('B', 'I' or 'O') and PHI type (None for 'O' or a non-PHI label)."""

    prefix: str
    type: PhiType | None


def parse_tag(label: str) -> Tag:
    """'B-PATIENT' -> Tag('B', NAME); 'O' -> Tag('O', None); a bare 'NAME' (IO scheme) -> Tag('I', NAME)."""
    label = label.strip()
    if label.upper() == "O":
        return Tag("O", None)
    prefix, body = "I", label
    if len(label) > 2 and label[1] in "-_" and label[0].upper() in "BIESLU":
        prefix = {"B": "B", "S": "B", "U": "B"}.get(label[0].upper(), "I")
        body = label[2:]
    phi_type = map_label(body)
    return Tag("O", None) if phi_type is None else Tag(prefix, phi_type)


def load_label_map(model_dir: Path) -> tuple[list[Tag], dict[str, object]]:
    """Tags by class id, plus optional settings stored beside them (``max_length``, ``stride``).

    Accepts ``{"id2label": {"0": "O", ...}, ...}``, a plain ``{"0": "O", ...}`` or a list of labels.
    """
    path = model_dir / "labels.json"
    if not path.exists():
        raise ConfigError(f"{model_dir}: labels.json is missing; it maps class ids to BIO labels")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON (line {exc.lineno})") from None
    settings: dict[str, object] = {}
    if isinstance(raw, dict) and "id2label" in raw:
        settings = {k: v for k, v in raw.items() if k != "id2label"}
        raw = raw["id2label"]
    if isinstance(raw, dict):
        try:
            labels = [str(raw[str(i)]) for i in range(len(raw))]
        except KeyError:
            raise ConfigError(f"{path}: class ids must be 0..{len(raw) - 1} without gaps") from None
    elif isinstance(raw, list):
        labels = [str(v) for v in raw]
    else:
        raise ConfigError(f"{path}: expected a list of labels or an id -> label object")
    try:
        return [parse_tag(label) for label in labels], settings
    except UnknownPhiTypeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
