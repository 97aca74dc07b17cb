"""Access control for reveal: who may see which protected value, for what purpose (roles, API tokens,
OIDC JWTs, TOTP, sessions and rate limits). The cryptography it relies on is in :mod:`pipeline.core.crypto`.
"""
