"""``phi-pipeline policy import --from presidio|ms-fhir FILE``: another tool's configuration as a policy file.

The written file is checked by the same loader the worker uses before it is written; what could not be
carried over is printed as notes (stderr), and what cannot be honoured at all is refused with its line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.core.errors import ConfigError
from pipeline.core.phi_types import PhiType, parse_phi_type
from pipeline.core.policy.loader import PolicyFileError, parse_policy
from pipeline.core.policy.ms_fhir import import_ms_fhir
from pipeline.core.policy.presidio import import_presidio

SOURCES = ("presidio", "ms-fhir")


def register(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser(
        "import", help="write a policy file from Presidio recognizers or Microsoft's FHIR anonymizer configuration"
    )
    parser.add_argument("--from", dest="source", required=True, choices=SOURCES, help="the other tool")
    parser.add_argument("file", type=Path, help="its configuration file")
    parser.add_argument("-o", "--output", type=Path, help="where to write the policy (default: standard output)")
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="ENTITY=TYPE",
        help="map a Presidio entity onto a PHI type (PERSON=NAME is built in; repeat for more)",
    )
    parser.set_defaults(func=run_policy_import)


def entity_map(pairs: list[str]) -> dict[str, PhiType]:
    """``["TITLE=NAME"]`` as a mapping; :class:`ConfigError` on a pair that is not ``ENTITY=TYPE``."""
    out = {}
    for pair in pairs:
        entity, sep, type_text = pair.partition("=")
        if not sep or not entity.strip():
            raise ConfigError(f"--map {pair!r}: write ENTITY=TYPE, for example ORGANIZATION=FACILITY")
        out[entity.strip().upper()] = parse_phi_type(type_text)
    return out


def run_policy_import(args: argparse.Namespace) -> int:
    try:
        text = args.file.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyFileError(str(args.file), [f"{args.file}: cannot read it as UTF-8 text ({exc})"]) from None
    if args.source == "ms-fhir":
        policy_text, notes = import_ms_fhir(text, str(args.file))
    else:
        policy_text, notes = import_presidio(text, str(args.file), entity_map(args.map))
    parse_policy(policy_text, f"{args.file} (imported)")  # the output loads as it is, or this is a bug
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if args.output is None:
        sys.stdout.write(policy_text)
    else:
        args.output.write_text(policy_text, "utf-8")
        print(
            f"policy written to {args.output}; check it with: phi-pipeline policy check {args.output}", file=sys.stderr
        )
    return 0
