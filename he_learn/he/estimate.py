"""What an encrypted training run will cost, from n, d and the preset, before it starts.

Threat model: none; it computes with public shapes and parameters only.

Time: the operations of one step are counted exactly, per block and per step,
by running the trainer's own polynomial evaluation on a counting stand-in of the
engine (:class:`_CountingEngine`), and priced with the seconds one operation
takes at the top level of each preset (:data:`OPERATION_SECONDS`, measured on
this project's 2-core machine), scaled by the number of primes left at the
operation's level. Memory: X's ciphertexts at the top and at the backward level,
the packed range flags, and one set of Galois and relinearisation keys per
process that computes; constants of the interpreter and of SEAL's memory pool
come on top (``benchmarks/ckks_scale.py`` measures both against the estimate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from he_learn.approximations import PolynomialApproximation
from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.errors import ParameterError
from he_learn.he.polynomial import evaluate_polynomial, normalised_coefficients, polynomial_depth
from he_learn.he.presets import CkksParameters, get_preset
from he_learn.he.training_spec import default_preset

__all__ = ["TrainingEstimate", "estimate_training", "OPERATION_SECONDS", "ciphertext_bytes"]

# Seconds of one operation on a top-level ciphertext: (ciphertext product with
# relinearisation and rescale, rotation, plaintext product with rescale), best of
# 20 on this project's 2-core AMD EPYC machine, one core, 2026-12.
OPERATION_SECONDS: dict[str, tuple[float, float, float]] = {
    "training-linear": (0.0036, 0.0026, 0.0008),
    "training": (0.0066, 0.0048, 0.0013),
    "training-deep": (0.0202, 0.0164, 0.0032),
}
# For any other preset: per coefficient and prime, from 'training'.
_PER_COEFFICIENT_PRIME = tuple(t / (8192 * 6) for t in OPERATION_SECONDS["training"])


def ciphertext_bytes(params: CkksParameters, level: int) -> int:
    """Memory of one (relinearised) ciphertext at ``level``: 2 polynomials over level + 1 primes."""
    return 2 * params.poly_modulus_degree * (level + 1) * 8


@dataclass(frozen=True)
class TrainingEstimate:
    """An encrypted run's expected cost (see the module docstring)."""

    preset: str
    ciphertexts: int
    seconds_per_iteration: float
    refreshes_per_iteration: float
    bytes_per_refresh: int
    encrypted_bytes: int
    trainer_bytes: int

    def describe(self) -> str:
        return (
            f"{self.ciphertexts} ciphertexts of X ({self.encrypted_bytes / 2**20:.0f} MiB) under {self.preset!r}: "
            f"about {self.seconds_per_iteration:.3g} s and {self.refreshes_per_iteration:g} refresh(es) of "
            f"{self.bytes_per_refresh / 2**20:.1f} MiB per iteration, the trainer holding about "
            f"{self.trainer_bytes / 2**20:.0f} MiB"
        )


class _Counted:
    __slots__ = ("level", "pending_rescale")

    def __init__(self, level: int) -> None:
        self.level, self.pending_rescale = level, False


class _CountingEngine:
    """Level bookkeeping and a cost tally instead of SEAL (evaluate_polynomial's interface)."""

    def __init__(self, params: CkksParameters) -> None:
        self.top = params.levels
        self.params = params
        name = params.name if params.name in OPERATION_SECONDS else None
        self.unit = OPERATION_SECONDS[name] if name else tuple(
            c * params.poly_modulus_degree * (params.levels + 1) for c in _PER_COEFFICIENT_PRIME)
        self.seconds = 0.0

    def _cost(self, kind: int, level: int) -> None:
        self.seconds += self.unit[kind] * (level + 1) / (self.top + 1)

    def multiply(self, a: _Counted, b: _Counted, rescale: bool = True) -> _Counted:
        level = min(a.level, b.level)
        self._cost(0, level)
        return _Counted(level - 1)

    def multiply_plain(self, a: _Counted, values: Any, rescale: bool = True) -> _Counted:
        self._cost(2, a.level)
        return _Counted(a.level - 1)

    def rotate(self, a: _Counted, step: int) -> _Counted:
        self._cost(1, a.level)
        return a

    def drop_to(self, a: _Counted, level: int) -> _Counted:
        for current in range(a.level, level, -1):
            self._cost(2, current)
        return _Counted(level)

    def add_many(self, values: list[_Counted]) -> _Counted:
        return _Counted(min(v.level for v in values))

    def add_plain(self, a: _Counted, values: Any) -> _Counted:
        self._cost(2, a.level)  # encoding the plaintext costs about a plaintext product
        return a


def estimate_training(
    n_samples: int,
    n_features: int,
    objective: str,
    approximation: PolynomialApproximation | None = None,
    preset: CkksParameters | str | None = None,
    workers: int = 1,
) -> TrainingEstimate:
    """The cost of one iteration of :func:`he_learn.he.training.train_encrypted`
    on an ``n_samples x n_features`` matrix (intercept column included)."""
    if objective not in ("squared", "logistic"):
        raise ParameterError(f"unknown objective {objective!r}")
    params = get_preset(preset) if preset is not None else default_preset(objective, approximation)
    layout = FeatureMajorLayout(int(n_samples), int(n_features), params.slot_count)
    engine = _CountingEngine(params)
    top = params.levels
    coefficients = None if objective == "squared" or approximation is None else normalised_coefficients(approximation)[1]
    depth = 0 if coefficients is None else polynomial_depth(coefficients)
    split = 3 + depth > top
    # one block: the scores, the polynomial and its flag, the backward product
    u = engine.multiply(_Counted(top), _Counted(top))
    for _ in layout.feature_sum_steps:
        engine.rotate(u, 1)
    if split:
        u = _Counted(top)
    if coefficients is not None:
        p = evaluate_polynomial(engine, u, coefficients)  # type: ignore[arg-type]
        flag = engine.drop_to(engine.multiply_plain(engine.add_plain(_Counted(u.level - 1), 1.0), 1.0), 1)
        if layout.blocks_per_pack > 1:
            engine.rotate(flag, 1)
    else:
        p = u
    engine.multiply(_Counted(p.level), p)
    per_block = engine.seconds
    # once a step: the sums over the samples, the mask, the replication, w's update
    engine.seconds = 0.0
    summed = _Counted(p.level - 1)
    for _ in layout.sample_sum_steps:
        engine.rotate(summed, 1)
    masked = engine.multiply_plain(summed, 1.0)
    for _ in layout.replicate_steps:
        engine.rotate(masked, 1)
    per_step = engine.seconds
    n = layout.n_ciphertexts
    workers = max(1, min(int(workers), n))
    seconds = math.ceil(n / workers) * per_block + per_step
    top_bytes = ciphertext_bytes(params, top)
    flags = layout.n_packs * ciphertext_bytes(params, 1) if coefficients is not None else 0
    # A refresh sends the masked weights (and, in a split step, every block's
    # scores) with the step's flags, and receives seeded encryptions (one
    # polynomial) at the top.
    w_level = max(0, top - (3 + depth)) if not split else 0
    sent = _serialized_bytes(params, w_level, 2) + (n * _serialized_bytes(params, top - 1, 2) if split else 0)
    received = (1 + (n if split else 0)) * _serialized_bytes(params, top, 1)
    flag_bytes = layout.n_packs * _serialized_bytes(params, 1, 2) if coefficients is not None else 0
    refresh_bytes = sent + received + flag_bytes
    keys = (len(layout.rotation_steps) + 1) * _switching_key_bytes(params)
    trainer = n * (top_bytes + ciphertext_bytes(params, p.level)) + flags + keys * (1 + (workers if workers > 1 else 0))
    return TrainingEstimate(params.name, n, seconds, 1.0 + (1.0 if split else 0.0), int(refresh_bytes),
                            n * top_bytes, int(trainer))


def _serialized_bytes(params: CkksParameters, level: int, polynomials: int) -> int:
    """Bytes of a serialised ciphertext: SEAL's zstd keeps about the primes' bits of
    each 64-bit coefficient (measured within 15%)."""
    return polynomials * params.poly_modulus_degree * sum(params.coeff_mod_bit_sizes[: level + 1]) // 8


def _switching_key_bytes(params: CkksParameters) -> int:
    """One Galois (or relinearisation) key in memory: a pair of polynomials over
    every prime, special prime included, for each data prime."""
    primes = len(params.coeff_mod_bit_sizes)
    return (primes - 1) * 2 * params.poly_modulus_degree * primes * 8
