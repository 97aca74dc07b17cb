"""Helpers for demos, producers, tests and benchmarks: synthetic records, signed inputs, leak scans, a tiny model.

They live apart from :mod:`pipeline.core` because a worker never runs them: keeping them out of the
worker's import closure keeps the deployed code path small and makes plain which code handles real
PHI. A test (``tests/unit/test_import_layers.py``) holds the worker's closure free of this package.
"""
