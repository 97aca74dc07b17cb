"""Keys, message integrity, tokens, envelope encryption and the audit hash chain (access control: core.access).

Each module has one job; import from the module itself (``pipeline.core.crypto.tokens``) so the
dependency each caller takes is plain. Everything here is pure and synchronous.
"""
