"""The original numpy toy of additive secret sharing, done right.

Threat model: n >= 2 honest-but-curious, non-colluding share holders. Each
share on its own, and any n - 1 of them together, is uniform in Z_Q, so it
says nothing about the secret; only all n shares reconstruct it.

The story (docs/design.md, "The story it grew from"):

1. split 2 and 5 into n additive shares mod Q = 501337;
2. add the two shared values share by share (giving shares of 7);
3. multiply every share by a public plaintext (shares of 7 * k);
4. reconstruct from all shares; a strict subset gives a uniformly random value.

The published toy returned from inside its loop, so it only ever produced one
share; here every step runs on all n shares, drawn from ``Csprng.mod`` and
combined with the native modular kernels.
"""

from __future__ import annotations

import hashlib

import numpy as np

from he_learn._native import Csprng, mod_add, mod_mul, mod_sub, mod_sum
from he_learn.encoding.prime_field import PrimeFieldEncoder
from he_learn.errors import ParameterError, ProtocolError

__all__ = ["share_mod", "reconstruct_mod", "toy_story", "TOY_MODULUS", "TOY_SECRETS", "TOY_MULTIPLIER"]

# The original toy's modulus and secrets.
TOY_MODULUS = 501337
TOY_SECRETS = (2, 5)
# A public plaintext factor for step 3 (any value works; 3 keeps the result readable).
TOY_MULTIPLIER = 3


def _rng(seed: int | bytes | None) -> Csprng:
    if seed is None:
        return Csprng(None)
    if isinstance(seed, (bytes, bytearray)):
        material = bytes(seed)
    elif isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        material = str(int(seed)).encode()
    else:
        raise ParameterError(f"seed must be an int, bytes or None, not {type(seed).__name__}")
    # Any seed is hashed to the CSPRNG's 32-byte seed.
    return Csprng(hashlib.sha256(b"he_learn.toy:" + material).digest())


def share_mod(values: np.ndarray, n_parties: int, modulus: int, rng: Csprng) -> np.ndarray:
    """Additive shares of ``values`` (int64 in [0, modulus)): shape (n_parties, *values.shape).

    The first n - 1 shares are uniform in [0, modulus); the last makes the sum right.
    """
    _check(n_parties, modulus)
    values = np.asarray(values, dtype=np.int64)
    if values.size and (int(values.min()) < 0 or int(values.max()) >= modulus):
        raise ParameterError(f"values must lie in [0, {modulus})")
    random = np.asarray(rng.mod((n_parties - 1) * max(values.size, 1), modulus), dtype=np.int64)
    random = random[: (n_parties - 1) * values.size].reshape((n_parties - 1, *values.shape))
    last = mod_sub(values, mod_sum(random, modulus), modulus) if n_parties > 1 else values
    return np.concatenate([random, np.asarray(last, dtype=np.int64)[None]], axis=0)


def reconstruct_mod(shares: np.ndarray, modulus: int, n_parties: int | None = None) -> np.ndarray:
    """Sum shares mod ``modulus``. With ``n_parties`` given, refuse fewer shares than that."""
    shares = np.asarray(shares, dtype=np.int64)
    if n_parties is not None and shares.shape[0] != n_parties:
        raise ProtocolError(f"reconstruction needs all {n_parties} shares, got {shares.shape[0]}")
    return np.asarray(mod_sum(shares, modulus), dtype=np.int64)


def _check(n_parties: int, modulus: int) -> None:
    if isinstance(n_parties, bool) or not isinstance(n_parties, (int, np.integer)) or n_parties < 2:
        raise ParameterError(f"n_parties must be an integer >= 2, not {n_parties!r}")
    PrimeFieldEncoder(modulus)  # validates 2 <= modulus < 2^62


def toy_story(n_parties: int = 3, modulus: int = TOY_MODULUS, seed: int | bytes | None = None) -> list[str]:
    """The toy as printable lines (``he-learn demo`` prints them)."""
    _check(n_parties, modulus)
    modulus = int(modulus)
    rng = _rng(seed)
    a_plain, b_plain = TOY_SECRETS
    k = TOY_MULTIPLIER
    # The toy works with residues in [0, Q) (unsigned), so any Q >= 2 is fine;
    # a small Q simply shows the arithmetic wrapping mod Q.
    a = share_mod(np.array([a_plain % modulus]), n_parties, modulus, rng)
    b = share_mod(np.array([b_plain % modulus]), n_parties, modulus, rng)
    total = np.asarray(mod_add(a, b, modulus), dtype=np.int64)
    scaled = np.asarray(mod_mul(total, k % modulus, modulus), dtype=np.int64)

    def listed(x: np.ndarray) -> str:
        return ", ".join(str(int(v)) for v in x[:, 0])

    lines = [
        f"Additive secret sharing mod Q = {modulus} among {n_parties} parties",
        f"  shares of {a_plain}: [{listed(a)}]",
        f"  shares of {b_plain}: [{listed(b)}]",
        f"  added share by share: [{listed(total)}]",
        f"  reconstructed from all {n_parties} shares: {int(reconstruct_mod(total, modulus)[0])}"
        f"  (expected ({a_plain} + {b_plain}) mod Q = {(a_plain + b_plain) % modulus})",
        f"  times the public plaintext {k}: [{listed(scaled)}]",
        f"  reconstructed: {int(reconstruct_mod(scaled, modulus)[0])}"
        f"  (expected {(a_plain + b_plain) * k} mod Q = {(a_plain + b_plain) * k % modulus})",
    ]
    subset = total[: n_parties - 1]
    lines.append(
        f"  {n_parties - 1} of the {n_parties} shares alone give {int(reconstruct_mod(subset, modulus)[0])}: "
        f"a uniformly random value, i.e. nonsense"
    )
    return lines
