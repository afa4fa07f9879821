"""What an encrypted training run will cost, from n, d and the preset, before it starts.

Threat model: none; it computes with public shapes and parameters only.

Time: the operations of one step are counted exactly, per block and per step,
by running the trainer's own polynomial evaluation on a counting stand-in of the
engine (:class:`_CountingEngine`), and priced with the seconds one operation
takes at the top level of each preset (:data:`OPERATION_SECONDS`, measured on
this project's 2-core machine), scaled by the number of primes left at the
operation's level. K outputs (one-vs-rest) repeat every operation and every
refreshed ciphertext K times, and share X and the keys. Memory: X's ciphertexts at the top and at the backward level,
the packed range flags, and one set of Galois and relinearisation keys per
process that computes; constants of the interpreter and of SEAL's memory pool
come on top (``benchmarks/ckks_scale.py`` measures both against the estimate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from he_learn.approximations import PolynomialApproximation
from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.errors import ParameterError, PrecisionError
from he_learn.he.evaluator import compose_rotation
from he_learn.he.polynomial import evaluate_polynomial, normalised_coefficients, polynomial_depth
from he_learn.he.presets import CkksParameters, get_preset
from he_learn.he.trainer_workers import worker_ranges
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
    # rotations, multiplications and plain_multiplications of one step, as
    # the trainer's OpCounts count them (the refresh's additions aside)
    operations_per_iteration: dict[str, int]

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
    """Level bookkeeping, a cost tally and the operation counts of
    :class:`~he_learn.he.ciphertext.OpCounts` instead of SEAL (the interface
    evaluate_polynomial uses)."""

    def __init__(self, params: CkksParameters, keyed_steps: tuple[int, ...]) -> None:
        self.top = params.levels
        self.params = params
        self.keyed_steps = keyed_steps
        name = params.name if params.name in OPERATION_SECONDS else None
        self.unit = OPERATION_SECONDS[name] if name else tuple(
            c * params.poly_modulus_degree * (params.levels + 1) for c in _PER_COEFFICIENT_PRIME)
        self.seconds = 0.0
        self.counts = {"rotations": 0, "multiplications": 0, "plain_multiplications": 0}

    def take(self) -> tuple[float, dict[str, int]]:
        """The tally since the last call, and start a new one."""
        seconds, counts = self.seconds, self.counts
        self.seconds, self.counts = 0.0, dict.fromkeys(counts, 0)
        return seconds, counts

    def _cost(self, kind: int, level: int) -> None:
        self.seconds += self.unit[kind] * (level + 1) / (self.top + 1)

    def multiply(self, a: _Counted, b: _Counted, rescale: bool = True) -> _Counted:
        level = min(a.level, b.level)
        self.drop_to(_Counted(max(a.level, b.level)), level)  # CkksEngine aligns the operands' levels
        self._cost(0, level)
        self.counts["multiplications"] += 1
        return _Counted(level - 1)

    def multiply_plain(self, a: _Counted, values: Any, rescale: bool = True) -> _Counted:
        self._cost(2, a.level)
        self.counts["plain_multiplications"] += 1
        return _Counted(a.level - 1)

    def rotate(self, a: _Counted, step: int) -> _Counted:
        for _ in compose_rotation(step, self.keyed_steps):  # as CkksEngine.rotate composes it
            self._cost(1, a.level)
            self.counts["rotations"] += 1
        return a

    def drop_to(self, a: _Counted, level: int) -> _Counted:
        while a.level > level:  # CkksEngine.drop_to multiplies by 1 once per level
            a = self.multiply_plain(a, 1.0)
        return a

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
    outputs: int = 1,
) -> TrainingEstimate:
    """The cost of one iteration of :func:`he_learn.he.training.train_encrypted`
    on an ``n_samples x n_features`` matrix (intercept column included) for
    ``outputs`` weight vectors, with every Galois key in the public context (not
    ``economy_keys``) and no l2 term (which adds one plaintext product a step)."""
    if objective not in ("squared", "logistic"):
        raise ParameterError(f"unknown objective {objective!r}")
    if objective == "logistic" and approximation is None:
        raise ParameterError("the logistic objective needs its polynomial approximation")
    for name, value in (("n_samples", n_samples), ("n_features", n_features), ("workers", workers),
                        ("outputs", outputs)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ParameterError(f"{name} must be a positive integer, not {value!r}")
    params = get_preset(preset) if preset is not None else default_preset(objective, approximation)
    layout = FeatureMajorLayout(int(n_samples), int(n_features), params.slot_count)
    engine = _CountingEngine(params, layout.key_steps())
    top = params.levels
    coefficients = None if objective == "squared" or approximation is None else normalised_coefficients(approximation)[1]
    depth = 0 if coefficients is None else polynomial_depth(coefficients)
    split = 3 + depth > top
    if coefficients is not None and depth + 2 > top:
        raise PrecisionError(f"the activation and gradient need {depth + 2} levels after a refresh but preset "
                             f"{params.name!r} has {top}")
    # one block (TrainingBlocks.backward): the scores, the polynomial and its flag, the backward product
    u = engine.multiply(_Counted(top), _Counted(top))
    for step in layout.feature_sum_steps:
        engine.rotate(u, step)
    if split:
        u = _Counted(top)
    flag_level = 1
    if coefficients is not None:
        powers: dict[int, Any] = {}
        p = evaluate_polynomial(engine, u, coefficients, powers=powers)  # type: ignore[arg-type]
        square = powers[2] if 2 in powers else engine.multiply(u, u)
        flag = engine.drop_to(engine.multiply_plain(engine.add_plain(square, 1.0), 1.0), 1)
        flag_level = flag.level
    else:
        p = u
    engine.multiply(_Counted(p.level), p)
    block_seconds, block_counts = engine.take()
    # the shift of each block's flag into its pack (none for the first of a pack)
    block_rotations = []
    for index in range(layout.n_ciphertexts):
        left = layout.pack_shift(index)[1] if coefficients is not None else 0
        if left:
            engine.rotate(_Counted(flag_level), left)
        block_rotations.append(engine.take())
    # once a step (rmatvec_from_sum): the sums over the samples, the mask, the replication
    summed = _Counted(p.level - 1)
    for step in layout.sample_sum_steps:
        engine.rotate(summed, step)
    masked = engine.multiply_plain(summed, 1.0)
    for step in layout.replicate_steps:
        engine.rotate(masked, step)
    # w - g: the weights (refreshed to the top) come down to g's level
    engine.drop_to(_Counted(top), masked.level)
    per_step, step_counts = engine.take()
    n = layout.n_ciphertexts
    workers = min(int(workers), n)
    ranges = [(0, n)] if workers == 1 else worker_ranges(n, workers)
    k = int(outputs)
    seconds = k * (max((stop - start) * block_seconds + sum(t for t, _ in block_rotations[start:stop])
                       for start, stop in ranges) + per_step)
    counts = {key: k * (n * block_counts[key] + step_counts[key] + sum(c[key] for _, c in block_rotations))
              for key in block_counts}
    top_bytes = ciphertext_bytes(params, top)
    flags = k * layout.n_packs * ciphertext_bytes(params, flag_level) if coefficients is not None else 0
    # A refresh sends the masked weights (and, in a split step, every block's
    # scores) with the step's flags, and receives seeded encryptions (one
    # polynomial) at the top.
    w_level = max(0, top - (3 + depth)) if not split else 0
    sent = _serialized_bytes(params, w_level, 2) + (n * _serialized_bytes(params, top - 1, 2) if split else 0)
    received = (1 + (n if split else 0)) * _serialized_bytes(params, top, 1)
    flag_bytes = layout.n_packs * _serialized_bytes(params, flag_level, 2) if coefficients is not None else 0
    refresh_bytes = k * (sent + received + flag_bytes)
    keys = (len(layout.key_steps()) + 1) * _switching_key_bytes(params)
    trainer = n * (top_bytes + ciphertext_bytes(params, p.level)) + flags + keys * (1 + (workers if workers > 1 else 0))
    return TrainingEstimate(params.name, n, seconds, 1.0 + (1.0 if split else 0.0), int(refresh_bytes),
                            n * top_bytes, int(trainer), counts)


def _serialized_bytes(params: CkksParameters, level: int, polynomials: int) -> int:
    """Bytes of a serialised ciphertext: SEAL's zstd keeps the bytes of each
    64-bit coefficient that its prime's bits reach (within 10% of the envelopes
    of 'training' and 'training-deep' at every level, tests/he/test_estimate.py)."""
    return polynomials * params.poly_modulus_degree * sum(-(-bits // 8) for bits in params.coeff_mod_bit_sizes[: level + 1])


def _switching_key_bytes(params: CkksParameters) -> int:
    """One Galois (or relinearisation) key in memory: a pair of polynomials over
    every prime, special prime included, for each data prime."""
    primes = len(params.coeff_mod_bit_sizes)
    return (primes - 1) * 2 * params.poly_modulus_degree * primes * 8
