"""Reproducible model builds: the PHI detector (corpus -> fine-tune -> ONNX -> int8 -> evaluation) and the
summarizer conversion.

Needs the ``models`` extra (torch, transformers, optimum); those are imported inside the functions that
use them, so importing this package (for ``--help``, for tests of the pure parts) costs nothing. The
worker never imports it: it only loads finished ONNX models through :mod:`pipeline.runtime`.
"""
