"""``phi-pipeline model``: reproducible build steps for the detector and the summarizer models.

Building needs the ``models`` extra (torch, transformers, optimum); the worker itself needs only
onnxruntime and tokenizers. Each build command lives in its own module.
"""

from __future__ import annotations

import argparse

from pipeline.interfaces import (
    adapt_commands,
    detector_model_commands,
    sensitive_model_commands,
    summarizer_model_commands,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    model = subparsers.add_parser("model", help="build the detector and summarizer models (needs the 'models' extra)")
    sub = model.add_subparsers(dest="model_command", required=True)
    detector_model_commands.register(sub)
    summarizer_model_commands.register(sub)
    sensitive_model_commands.register(sub)
    adapt_commands.register(sub)
