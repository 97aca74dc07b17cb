"""Keys, message integrity, tokens, envelope encryption, the audit hash chain and audited reveal.

Each module has one job; import from the module itself (``pipeline.core.crypto.tokens``) so the
dependency each caller takes is plain. Everything here is pure and synchronous.
"""
