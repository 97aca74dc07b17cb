"""The sensitive-category classifier's build: corpus, training, export, quantization, thresholds, card.

Needs the ``models`` extra (torch, transformers, optimum); never imported by a worker. The runtime side is
:mod:`pipeline.runtime.sensitive_classifier`; the categories and the policy are :mod:`pipeline.core.sensitive`.
"""
