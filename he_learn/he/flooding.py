"""The noise-flooding rule for released decryptions, and the per-key release budget.

Threat model: whoever receives a released value (trainer, model owner, server,
the public) saw the ciphertext it came from and is honest-but-curious. What the
rule guarantees, and why, is in :mod:`he_learn.he.release`; this module holds the
numbers so that :class:`~he_learn.he.keys.KeyHolder` can keep one budget per key
without importing the release machinery.

The rule (derivation in :mod:`he_learn.he.release`): a released value is
``Re(slot) + g`` with ``g`` Gaussian of standard deviation

    sigma = 2^(s/2) * sqrt(V / 2) * B

where ``B`` bounds the decryption error of that slot, ``s`` is the statistical
security in bits and ``V`` the number of values a key may release in its
lifetime. Then the KL divergence between everything the receivers see and an
ideal world in which the releases carry no decryption error is at most 2^-s.

Gaussian samples come from ``Csprng`` through Box-Muller (two 53-bit uniforms
per pair of normals; the first mapped to (0, 1] so the logarithm is finite). It
is exact in real arithmetic; in float64 the tails stop at
``sqrt(2 * 53 * ln 2) = 8.57`` standard deviations (mass 1e-17 per sample).
A discrete Gaussian would buy nothing here: the released values are float64
slot values, not ring elements, and the bound is stated for a continuous
Gaussian.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from he_learn._native import Csprng
from he_learn.errors import ParameterError, SecurityError

__all__ = [
    "MIN_SECURITY_BITS",
    "DEFAULT_MAX_RELEASED_VALUES",
    "FloodingPolicy",
    "ReleaseBudget",
    "gaussian",
]

# The floor and OpenFHE's default (statisticalSecurity = 30).
MIN_SECURITY_BITS = 30

# 2^20 released values per key: about ten rounds of a 10^5-parameter federated
# model, or thousands of trained models. A new key pair restores the budget.
DEFAULT_MAX_RELEASED_VALUES = 2**20


@dataclass(frozen=True)
class FloodingPolicy:
    """``security_bits`` (s >= 30) for up to ``max_released_values`` (V) values per key."""

    security_bits: int = MIN_SECURITY_BITS
    max_released_values: int = DEFAULT_MAX_RELEASED_VALUES

    def __post_init__(self) -> None:
        bits, values = self.security_bits, self.max_released_values
        if isinstance(bits, bool) or not isinstance(bits, int) or not MIN_SECURITY_BITS <= bits <= 128:
            raise ParameterError(f"security_bits must be an int in [{MIN_SECURITY_BITS}, 128], not {bits!r}")
        if isinstance(values, bool) or not isinstance(values, int) or not 1 <= values <= 2**62:
            raise ParameterError(f"max_released_values must be a positive int, not {values!r}")

    @property
    def flooding_factor(self) -> float:
        """``sigma / B = 2^(s/2) * sqrt(V / 2)``."""
        return 2.0 ** (self.security_bits / 2) * math.sqrt(self.max_released_values / 2)

    @property
    def bits_lost(self) -> float:
        """Precision the flooding costs, in bits above the decryption error bound."""
        return math.log2(self.flooding_factor)

    def sigma(self, error_bound: float) -> float:
        """Standard deviation of the flooding noise for a slot whose error is at most ``error_bound``."""
        bound = float(error_bound)
        if not math.isfinite(bound) or bound <= 0:
            raise ParameterError(f"error_bound must be a positive finite number, not {error_bound!r}")
        return self.flooding_factor * bound


@dataclass
class ReleaseBudget:
    """How many values one key has released; refuses past the policy's ``V``.

    One lives in each :class:`~he_learn.he.keys.KeyHolder`, so every release of
    that key, through any caller, spends the same budget. Not thread-safe: a key
    holder serves one protocol at a time.
    """

    policy: FloodingPolicy = field(default_factory=FloodingPolicy)
    released: int = 0

    @property
    def remaining(self) -> int:
        return self.policy.max_released_values - self.released

    def spend(self, n_values: int) -> None:
        if n_values > self.remaining:
            raise SecurityError(
                f"this key has released {self.released} of its {self.policy.max_released_values} values; "
                f"releasing {n_values} more would take the statistical security below "
                f"{self.policy.security_bits} bits. Generate a new key pair (a new KeyHolder) for further releases"
            )
        self.released += n_values


def gaussian(stream: Csprng, n: int) -> np.ndarray:
    """``n`` standard normal float64 samples by Box-Muller (module doc)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ParameterError(f"n must be a non-negative int, not {n!r}")
    pairs = -(-int(n) // 2)
    radius_u = 1.0 - stream.uniform((pairs,), 0.0, 1.0)  # (0, 1]: log is finite
    angle = 2.0 * math.pi * stream.uniform((pairs,), 0.0, 1.0)
    radius = np.sqrt(-2.0 * np.log(radius_u))
    return np.concatenate([radius * np.cos(angle), radius * np.sin(angle)])[: int(n)]
