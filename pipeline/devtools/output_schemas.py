"""Writes ``schemas/deidentified_<name>.avsc`` for every input schema: the output schema consumers read.

    python -m pipeline.devtools.output_schemas [schemas/]

The de-identified schema is derived from its input schema (``pipeline.core.schemas.deidentified_schema``);
the shipped file must equal the derivation, or the schema registry refuses to load (so a worker never
writes records its shipped schema does not describe). Run this after changing an input schema, keep the
registry id it already has (a new input schema's output gets ``input id + 100``), and review the diff as a
change to the output contract (docs/contract.md, schema evolution rules).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pipeline.config import DEFAULT_SCHEMA_DIR
from pipeline.core.schemas import _entry_from_raw, shipped_output_schema


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0]) if args else DEFAULT_SCHEMA_DIR
    for path in sorted(folder.glob("*.avsc")):
        entry = _entry_from_raw(path.stem, json.loads(path.read_text(encoding="utf-8")))
        if not entry.is_input:
            continue
        target = folder / f"deidentified_{entry.name}.avsc"
        shipped = json.loads(target.read_text(encoding="utf-8")) if target.exists() else {}
        registry_id = shipped.get("registry_id", None if entry.registry_id is None else entry.registry_id + 100)
        target.write_text(shipped_output_schema(entry, registry_id), encoding="utf-8")
        print(f"wrote {target} (registry id {registry_id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
