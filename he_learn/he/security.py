"""Security checks: the HE standard's parameter table and the no-secret-key rule.

Threat model: the party that runs the computation (trainer, aggregator,
evaluator) is honest-but-curious and must never hold the CKKS secret key. The
parameters must give 128-bit security against the attacks the HomomorphicEncryption.org
standard considers (Albrecht et al., "Homomorphic Encryption Security Standard",
2018, table 1, ternary secret, classical 128-bit column).
"""

from __future__ import annotations

import hashlib
from typing import Any

from he_learn.errors import SecurityError
from he_learn.he.presets import CkksParameters

__all__ = ["MAX_MODULUS_BITS_128", "check_security", "require_public", "fingerprint_bytes"]

# Albrecht et al. 2018, table 1: largest log2(q) for 128-bit classical security.
MAX_MODULUS_BITS_128 = {1024: 27, 2048: 54, 4096: 109, 8192: 218, 16384: 438, 32768: 881}

# Hex digits of SHA-256 kept in a key fingerprint: 128 bits, plenty to tell keys apart.
FINGERPRINT_HEX_DIGITS = 32


def check_security(params: CkksParameters, *, allow_insecure: bool = False) -> None:
    """Raise :class:`SecurityError` when ``params`` exceed the 128-bit modulus budget.

    ``allow_insecure=True`` is the explicit opt-out; it is the caller's decision
    and never the default. Note that SEAL, as TenSEAL builds it, enforces the same
    table on its own, so an opted-out set still fails there (``ParameterError``):
    the opt-out matters for parameter sets TenSEAL may one day accept.
    """
    limit = MAX_MODULUS_BITS_128[params.poly_modulus_degree]
    if params.total_modulus_bits > limit and not allow_insecure:
        raise SecurityError(
            f"preset {params.name!r}: N={params.poly_modulus_degree} with {params.total_modulus_bits} modulus bits "
            f"is below 128-bit security (limit {limit} bits, HE standard, Albrecht et al. 2018). Use fewer or "
            "smaller primes, a larger N, or pass allow_insecure=True to opt out explicitly"
        )


def require_public(context: Any, where: str) -> None:
    """Refuse a TenSEAL context that holds a secret key (server-side entry points)."""
    holds_secret = getattr(context, "is_private", None)
    if holds_secret is None:
        raise SecurityError(f"{where}: expected a TenSEAL context, got {type(context).__name__}")
    if context.is_private():
        raise SecurityError(
            f"{where} runs on the server and must not hold the secret key: pass the key holder's "
            "public_context(), not the key holder's own context"
        )


def fingerprint_bytes(public_key_bytes: bytes) -> str:
    """Key fingerprint: truncated SHA-256 of the serialised public key."""
    return hashlib.sha256(public_key_bytes).hexdigest()[:FINGERPRINT_HEX_DIGITS]
