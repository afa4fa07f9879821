"""CKKS arithmetic on SEAL ciphertexts with exact level and scale accounting.

Threat model: the engine runs wherever ciphertexts are processed. Built with
:meth:`CkksEngine.for_server` it refuses a context that holds the secret key
(``SecurityError``), so a trainer, aggregator or evaluator never can decrypt.

Why SEAL directly (``tenseal.sealapi``) and not TenSEAL's ``CKKSVector``: the
high-level API has no public rotation, and it resets a ciphertext's scale to the
nominal one after each rescale, which is off by the ratio of the dropped prime to
the scale (up to 43% for Tutorial 1's 21-bit primes). Here every level ``l`` has
one *canonical* scale ``S_l``: the top level uses ``2^scale_bits`` and
``S_{l-1} = S_l^2 / q_l`` where ``q_l`` is the prime dropped by the rescale.
Every ciphertext at level ``l`` carries ``S_l`` and every plaintext is encoded at
``S_l``, so ciphertext x ciphertext and ciphertext x plaintext products both land
exactly on ``S_{l-1}``: additions always match and no value is silently off by a
prime's ratio. (This is the "exact scale" bookkeeping of Kim, Papadimitriou and
Polyakov, "Approximate homomorphic encryption with reduced approximation error",
CT-RSA 2022, in its simplest form.)

Deferred rescaling: :meth:`CkksEngine.multiply` and :meth:`multiply_plain` take
``rescale=False`` to keep the product at scale ``S_l^2``; rotations and additions
then run before :meth:`rescale`. Key switching (rotation, relinearisation) adds
noise of roughly ``N * sigma * L`` in absolute coefficient terms; added at scale
``S_l^2`` and divided by ``q_l`` it shrinks by about ``2^scale_bits``, where
after the rescale it would cost ~1e-5 per rotation at scale 2^32.

Additive-only presets (``CkksParameters.additive_only``, federated
aggregation) are never multiplied: every level keeps the one scale
``2^scale_bits``, which may exceed the primes (the values then fit only at the
levels whose modulus holds scale and headroom), and products and rescales raise
``ParameterError``.

Levels: a fresh ciphertext has ``params.levels`` multiplicative levels; each
multiplication uses one. An operation on a level-0 ciphertext raises
``PrecisionError`` naming the remedies instead of decrypting to garbage.

Headroom: a value ``v`` at level ``l`` is stored as ``v * S_l`` modulo ``Q_l``,
so it decrypts correctly only while ``|v| < H_l = Q_l / (2 S_l)``
(:meth:`CkksEngine.headroom_at`); past that it wraps around to a value in
``(-H_l, H_l)``. he_learn keeps every value below :data:`MAX_VALUE_FRACTION` of
the headroom: :meth:`CkksEngine.encode` refuses larger plaintexts and the key
holder refuses a decryption that reaches beyond it (a wrapped value lands
anywhere in ``(-H_l, H_l)``, so it is caught with probability at least
``1 - MAX_VALUE_FRACTION`` per slot). SEAL and TenSEAL errors never escape raw:
they become ``ParameterError`` (bad input) or ``PrecisionError``.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Protocol, Sequence, runtime_checkable

import numpy as np
import tenseal.sealapi as sealapi

from he_learn.errors import ParameterError, PrecisionError, SecurityError
from he_learn.he.ciphertext import CkksCiphertext, OpCounts
from he_learn.he.presets import CkksParameters
from he_learn.he.seal_io import seal_errors
from he_learn.he.security import require_public

__all__ = ["CkksEngine", "ServerContext", "compose_rotation", "galois_element", "MAX_VALUE_FRACTION", "MIN_PLAIN_FACTOR_BITS"]

# The canonical scale may drift from 2^scale_bits by at most this many bits
# before the engine refuses the preset: beyond it the headroom stated by the
# preset (q0 bits - scale bits) is no longer what the values actually get.
_MAX_SCALE_DRIFT_BITS = 1.0

# Largest |value| as a fraction of the headroom H_l (module doc). The top bit of
# the headroom is reserved to tell wrapped values from genuine ones (the
# federated presets and the refresh masks both stay below H_l / 2); the extra
# 1/16 absorbs CKKS noise on values encrypted right at H_l / 2.
MAX_VALUE_FRACTION = 9 / 16

# A plaintext factor c encoded at scale S is rounded to a multiple of 1/S, a
# relative error up to 1 / (2 |c| S): below 2^10 that is worse than 5e-4, and at
# |c| S < 1/2 the plaintext is zero and SEAL's product is "transparent".
MIN_PLAIN_FACTOR_BITS = 10


@runtime_checkable
class ServerContext(Protocol):
    """What a server-side engine is built from: public metadata and a loader of
    the TenSEAL context (:class:`he_learn.he.keys.PublicContext` is the one
    implementation). Whether the context is public is decided by its loaded
    content (:func:`~he_learn.he.security.require_public`), not by its Python type."""

    params: CkksParameters
    fingerprint: str
    rotation_steps: tuple[int, ...]

    def load(self) -> Any: ...


def compose_rotation(step: int, keyed_steps: Iterable[int]) -> list[int]:
    """Keyed steps whose sum is ``step``: ``[step]`` when it has its own key, else
    a greedy composition from same-sign keyed steps, largest first (what
    :meth:`CkksEngine.rotate` runs, and what :mod:`he_learn.he.estimate` counts)."""
    keyed = set(keyed_steps)
    if step in keyed:
        return [step]
    path = []
    remaining = step
    for candidate in sorted((s for s in keyed if s * step > 0), key=abs, reverse=True):
        while abs(remaining) >= abs(candidate):
            path.append(candidate)
            remaining -= candidate
    if remaining:
        raise ParameterError(
            f"no Galois key for a rotation by {step} and no composition from {sorted(keyed)}: "
            "the key holder must include it in public_context(rotation_steps=...)"
        )
    return path


def galois_element(step: int, poly_modulus_degree: int) -> int:
    """SEAL's Galois element for a slot rotation by ``step`` (positive = left):
    3^(step mod N/2) mod 2N (SEAL ``GaloisTool::get_elt_from_step``)."""
    slots = poly_modulus_degree // 2
    if step % slots == 0:
        raise ParameterError("a rotation by a multiple of the slot count is the identity; no key needed")
    return pow(3, step % slots, 2 * poly_modulus_degree)


class CkksEngine:
    """Homomorphic operations bound to one TenSEAL context and parameter set.

    Use :meth:`for_server` on the computing side; the key holder builds its own
    engine for encryption. ``counts`` accumulates the operations performed.
    """

    def __init__(
        self,
        ts_context: Any,
        params: CkksParameters,
        fingerprint: str,
        rotation_steps: Iterable[int] = (),
    ) -> None:
        self.params = params
        self.fingerprint = fingerprint
        self.rotation_steps = frozenset(int(s) for s in rotation_steps)
        self.counts = OpCounts()
        data = ts_context.data
        self.seal_context = data.seal_context()
        self._evaluator = sealapi.Evaluator(self.seal_context)
        self._encoder = sealapi.CKKSEncoder(self.seal_context)
        self._encryptor = sealapi.Encryptor(self.seal_context, data.public_key())
        self._relin_keys = data.relin_keys()
        self._galois_keys = data.galois_keys() if ts_context.has_galois_keys() else None
        self._parms_ids: list[list[int]] = []
        dropped: list[int] = []
        self._modulus_bits: list[float] = []
        context_data = self.seal_context.first_context_data()
        while context_data is not None:
            self._parms_ids.append(context_data.parms_id())
            self._modulus_bits.append(sum(math.log2(m.value()) for m in context_data.parms().coeff_modulus()))
            dropped.append(context_data.parms().coeff_modulus()[-1].value())
            context_data = context_data.next_context_data()
        # first_context_data is the top level; store bottom-up so index == level.
        self._parms_ids.reverse()
        self._modulus_bits.reverse()
        dropped.reverse()
        self.top_level = len(self._parms_ids) - 1
        if self.top_level != params.levels:
            raise ParameterError(f"context has {self.top_level} levels but preset {params.name!r} says {params.levels}")
        self._scales = [0.0] * (self.top_level + 1)
        self._scales[self.top_level] = params.scale
        for level in range(self.top_level, 0, -1):
            # an additive-only set never rescales: one scale throughout
            self._scales[level - 1] = params.scale if params.additive_only else self._scales[level] ** 2 / dropped[level]
        drift = max(abs(math.log2(s) - params.scale_bits) for s in self._scales)
        if drift > _MAX_SCALE_DRIFT_BITS:
            raise PrecisionError(
                f"preset {params.name!r}: its primes are too far from 2^{params.scale_bits} for exact scale "
                f"tracking (the scale drifts {drift:.1f} bits over the chain). Use primes of 25 bits or more, "
                "e.g. the 'training' preset; Tutorial 1's set is for the per-sample baseline only"
            )

    @classmethod
    def for_server(cls, public_context: ServerContext) -> "CkksEngine":
        """An engine for the computing party, from a key holder's ``PublicContext``."""
        if not isinstance(public_context, ServerContext):
            raise SecurityError(
                f"server-side engines take a PublicContext (no secret key), not {type(public_context).__name__}"
            )
        context = public_context.load()
        require_public(context, "a server-side engine")
        return cls(context, public_context.params, public_context.fingerprint, public_context.rotation_steps)

    # -- bookkeeping -----------------------------------------------------
    @property
    def slot_count(self) -> int:
        return self.params.slot_count

    def scale_at(self, level: int) -> float:
        return self._scales[level]

    def level_of(self, seal_ciphertext: Any) -> int:
        """Level of a raw SEAL ciphertext under this engine's chain."""
        parms = list(seal_ciphertext.parms_id())
        for level, candidate in enumerate(self._parms_ids):
            if list(candidate) == parms:
                return level
        raise ParameterError("the ciphertext does not belong to this context's modulus chain")

    def modulus_bits_at(self, level: int) -> float:
        """log2 of the ciphertext modulus Q_level (product of the primes left)."""
        return self._modulus_bits[level]

    def headroom_at(self, level: int, scale: float | None = None) -> float:
        """``H_l = Q_l / (2 * scale)``: values at ``level`` wrap around beyond it
        (``scale`` defaults to the level's canonical scale)."""
        scale = self._scales[level] if scale is None else float(scale)
        return 2.0 ** (self._modulus_bits[level] - 1 - math.log2(scale))

    def max_value_at(self, level: int) -> float:
        """Largest |value| he_learn encodes at ``level`` or accepts from a
        decryption there: ``MAX_VALUE_FRACTION * headroom_at(level)``."""
        return MAX_VALUE_FRACTION * self.headroom_at(level)

    def _wrap(self, seal: Any, level: int, pending: bool = False) -> CkksCiphertext:
        return CkksCiphertext(seal, level, self.fingerprint, pending)

    def _check_rescaled(self, value: Any, what: str) -> CkksCiphertext:
        value = self._check(value)
        if value.pending_rescale:
            raise ParameterError(f"{what} needs a rescaled ciphertext: call engine.rescale() first")
        return value

    def _check(self, value: Any) -> CkksCiphertext:
        if not isinstance(value, CkksCiphertext):
            raise ParameterError(f"expected a CkksCiphertext, got {type(value).__name__}")
        if value.fingerprint != self.fingerprint:
            raise SecurityError(
                f"ciphertext made under key {value.fingerprint[:8]} given to an engine for key {self.fingerprint[:8]}"
            )
        return value

    def _multiplicative(self, what: str) -> None:
        if self.params.additive_only:
            raise ParameterError(
                f"preset {self.params.name!r} is additive-only (its scale is not tied to a prime, so no product can "
                f"be rescaled): {what} is not available on it"
            )

    def _need_level(self, value: CkksCiphertext, what: str, levels: int = 1) -> None:
        if value.level < levels:
            raise PrecisionError(
                f"out of levels: {what} needs {levels} more level(s) but the ciphertext is at level {value.level} "
                f"of {self.top_level}. Refresh it through the key holder (he_learn.he.refresh.masked_refresh) or "
                "choose a preset with more levels"
            )

    def _slot_values(self, values: Any, per_slot: int = 1) -> np.ndarray:
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"expected numbers to encode, not {type(values).__name__}: {exc}") from exc
        if array.ndim != 1 or array.size > per_slot * self.slot_count:
            raise ParameterError(
                f"expected at most {per_slot * self.slot_count} values in a 1-D array, got shape {array.shape}"
            )
        if not np.all(np.isfinite(array)):
            raise ParameterError("cannot encode NaN or infinite values")
        return array

    def _check_magnitude(self, largest: float, level: int) -> None:
        limit = self.max_value_at(level)
        if largest > limit:
            raise PrecisionError(
                f"a value of magnitude {largest:g} does not fit at level {level}: the limit there is {limit:g} "
                f"({MAX_VALUE_FRACTION:g} of the modulus headroom), beyond which CKKS wraps around. Encrypt at a "
                "higher level, scale the values down, or choose a preset with more headroom (a larger first prime)"
            )

    # -- encoding and encryption ------------------------------------------
    def encode(self, values: Any, level: int) -> Any:
        """A plaintext at ``level``'s parameters and canonical scale. A Python
        float is encoded in every slot."""
        if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or not 0 <= level <= self.top_level:
            raise ParameterError(f"level must be an int in [0, {self.top_level}], not {level!r}")
        plaintext = sealapi.Plaintext()
        parms = self._parms_ids[level]
        if isinstance(values, (int, float, np.floating, np.integer)) and not isinstance(values, bool):
            if not math.isfinite(values):
                raise ParameterError("cannot encode NaN or infinity")
            self._check_magnitude(abs(float(values)), level)
            with seal_errors("encoding"):
                self._encoder.encode(float(values), parms, self._scales[level], plaintext)
        else:
            array = self._slot_values(values)
            self._check_magnitude(float(np.max(np.abs(array))) if array.size else 0.0, level)
            with seal_errors("encoding"):
                self._encoder.encode(array.tolist(), parms, self._scales[level], plaintext)
        return plaintext

    def encrypt(self, values: Any, level: int | None = None) -> CkksCiphertext:
        """Public-key encryption of up to ``slot_count`` values (zeros fill the rest)."""
        level = self.top_level if level is None else level
        return self._encrypt_plaintext(self.encode(values, level), level)  # encode validates the level

    def encrypt_complex(self, values: Any, level: int | None = None) -> CkksCiphertext:
        """Public-key encryption of up to ``2 * slot_count`` real values, two per
        slot: slot ``j`` holds ``values[2j] + i * values[2j + 1]`` (half the
        ciphertexts of :meth:`encrypt`; only additions and rotations keep the
        pairs apart, and both parts are data, see :mod:`he_learn.he.release`).
        The headroom limit applies to each slot's modulus ``|z_j|``."""
        level = self.top_level if level is None else level
        if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or not 0 <= level <= self.top_level:
            raise ParameterError(f"level must be an int in [0, {self.top_level}], not {level!r}")
        array = self._slot_values(values, per_slot=2)
        pairs = np.zeros(2 * (-(-array.size // 2)), dtype=np.float64)
        pairs[: array.size] = array
        slots = pairs.view(np.complex128)
        self._check_magnitude(float(np.max(np.abs(slots))) if slots.size else 0.0, level)
        plaintext = sealapi.Plaintext()
        with seal_errors("encoding"):
            self._encoder.encode(slots.tolist(), self._parms_ids[level], self._scales[level], plaintext)
        return self._encrypt_plaintext(plaintext, level)

    def _encrypt_plaintext(self, plaintext: Any, level: int) -> CkksCiphertext:
        ciphertext = sealapi.Ciphertext(self.seal_context)
        with seal_errors("encryption"):
            self._encryptor.encrypt(plaintext, ciphertext)
        self.counts.encryptions += 1
        return self._wrap(ciphertext, level)

    # -- levels ----------------------------------------------------------
    def drop_to(self, value: CkksCiphertext, level: int) -> CkksCiphertext:
        """The same value at a lower level (multiplying by 1 keeps the scale canonical)."""
        value = self._check_rescaled(value, "dropping a level")
        if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or level < 0:
            raise ParameterError(f"level must be a non-negative int, not {level!r}")
        if level > value.level:
            raise ParameterError(f"cannot raise a ciphertext from level {value.level} to {level}: refresh it instead")
        while value.level > level:
            value = self.multiply_plain(value, 1.0)
        return value

    def _align(self, a: CkksCiphertext, b: CkksCiphertext) -> tuple[CkksCiphertext, CkksCiphertext]:
        a, b = self._check(a), self._check(b)
        if a.pending_rescale != b.pending_rescale:
            raise ParameterError("cannot combine a ciphertext whose rescale is pending with a rescaled one")
        if a.level > b.level:
            a = self.drop_to(a, b.level)
        elif b.level > a.level:
            b = self.drop_to(b, a.level)
        return a, b

    # -- arithmetic ------------------------------------------------------
    def add(self, a: CkksCiphertext, b: CkksCiphertext) -> CkksCiphertext:
        a, b = self._align(a, b)
        out = sealapi.Ciphertext()
        with seal_errors("addition"):
            self._evaluator.add(a.seal, b.seal, out)
        self.counts.additions += 1
        return self._wrap(out, a.level, a.pending_rescale)

    def add_inplace(self, a: CkksCiphertext, b: CkksCiphertext) -> CkksCiphertext:
        """``a += b`` without a new ciphertext (a running sum the caller owns,
        such as the aggregation server's); both at the same level and state.
        Returns ``a``. The one engine operation that mutates its argument."""
        a, b = self._check(a), self._check(b)
        if a.level != b.level or a.pending_rescale != b.pending_rescale:
            raise ParameterError("an in-place addition needs two ciphertexts at the same level and rescale state")
        with seal_errors("addition"):
            self._evaluator.add_inplace(a.seal, b.seal)
        self.counts.additions += 1
        return a

    def add_encoded(self, a: CkksCiphertext, plaintext: Any) -> CkksCiphertext:
        """``a`` plus a ready ``sealapi.Plaintext`` at ``a``'s level and scale (an
        integer polynomial built in the coefficient domain, e.g. the flooding
        noise of :mod:`he_learn.he.release`)."""
        a = self._check_rescaled(a, "adding a plaintext")
        out = sealapi.Ciphertext()
        with seal_errors("adding a plaintext"):
            self._evaluator.add_plain(a.seal, plaintext, out)
        self.counts.additions += 1
        return self._wrap(out, a.level)

    def sub(self, a: CkksCiphertext, b: CkksCiphertext) -> CkksCiphertext:
        a, b = self._align(a, b)
        out = sealapi.Ciphertext()
        with seal_errors("subtraction"):
            self._evaluator.sub(a.seal, b.seal, out)
        self.counts.additions += 1
        return self._wrap(out, a.level, a.pending_rescale)

    def add_many(self, values: Sequence[CkksCiphertext]) -> CkksCiphertext:
        if not values:
            raise ParameterError("nothing to add")
        total = values[0]
        for value in values[1:]:
            total = self.add(total, value)
        return total

    def add_plain(self, a: CkksCiphertext, values: Any) -> CkksCiphertext:
        a = self._check_rescaled(a, "adding a plaintext")
        plaintext = self.encode(values, a.level)
        out = sealapi.Ciphertext()
        with seal_errors("adding a plaintext"):
            self._evaluator.add_plain(a.seal, plaintext, out)
        self.counts.additions += 1
        return self._wrap(out, a.level)

    def sub_plain(self, a: CkksCiphertext, values: Any) -> CkksCiphertext:
        a = self._check_rescaled(a, "subtracting a plaintext")
        plaintext = self.encode(values, a.level)
        out = sealapi.Ciphertext()
        with seal_errors("subtracting a plaintext"):
            self._evaluator.sub_plain(a.seal, plaintext, out)
        self.counts.additions += 1
        return self._wrap(out, a.level)

    def multiply(self, a: CkksCiphertext, b: CkksCiphertext, rescale: bool = True) -> CkksCiphertext:
        """Ciphertext x ciphertext, relinearised and rescaled (one level).
        ``rescale=False`` defers the rescale (see module doc)."""
        self._multiplicative("a ciphertext multiplication")
        a, b = self._align(a, b)
        if a.pending_rescale:
            raise ParameterError("multiplying needs rescaled ciphertexts: call engine.rescale() first")
        self._need_level(a, "a ciphertext multiplication")
        out = sealapi.Ciphertext()
        with seal_errors("a ciphertext multiplication"):
            if a is b:
                self._evaluator.square(a.seal, out)
            else:
                self._evaluator.multiply(a.seal, b.seal, out)
            self._evaluator.relinearize_inplace(out, self._relin_keys)
        self.counts.multiplications += 1
        return self._finish(out, a.level, rescale)

    def _finish(self, seal: Any, level: int, rescale: bool) -> CkksCiphertext:
        if not rescale:
            return self._wrap(seal, level, pending=True)
        with seal_errors("a rescale"):
            self._evaluator.rescale_to_next_inplace(seal)
        return self._wrap(seal, level - 1)

    def rescale(self, a: CkksCiphertext) -> CkksCiphertext:
        """Finish a deferred rescale: level - 1, canonical scale again."""
        self._multiplicative("a rescale")
        a = self._check(a)
        if not a.pending_rescale:
            raise ParameterError("this ciphertext has no pending rescale")
        out = sealapi.Ciphertext()
        with seal_errors("a rescale"):
            self._evaluator.rescale_to_next(a.seal, out)
        return self._wrap(out, a.level - 1)

    def multiply_plain(self, a: CkksCiphertext, values: Any, rescale: bool = True) -> CkksCiphertext:
        """Ciphertext x plaintext (slot values or one float), rescaled (one level).
        ``rescale=False`` defers the rescale (see module doc)."""
        self._multiplicative("a plaintext multiplication")
        a = self._check_rescaled(a, "a plaintext multiplication")
        self._need_level(a, "a plaintext multiplication")
        if isinstance(values, (int, float, np.floating, np.integer)) and not isinstance(values, bool):
            largest = abs(float(values))
        else:
            array = self._slot_values(values)
            largest = float(np.max(np.abs(array))) if array.size else 0.0
        if largest == 0:
            raise ParameterError("multiplying by an all-zero plaintext gives a transparent ciphertext; drop the term instead")
        if math.isfinite(largest) and largest * self._scales[a.level] < 2.0**MIN_PLAIN_FACTOR_BITS:
            raise PrecisionError(
                f"a plaintext factor of magnitude {largest:g} at scale 2^{math.log2(self._scales[a.level]):.1f} keeps "
                f"fewer than {MIN_PLAIN_FACTOR_BITS} bits (it rounds to a multiple of 1/scale): use a larger factor "
                "(a larger learning rate, gradient='sum' instead of 'mean'), or a preset with a larger scale "
                "('training-linear' has 2^32)"
            )
        plaintext = self.encode(values, a.level)
        out = sealapi.Ciphertext()
        with seal_errors("a plaintext multiplication"):
            self._evaluator.multiply_plain(a.seal, plaintext, out)
        self.counts.plain_multiplications += 1
        return self._finish(out, a.level, rescale)

    def negate(self, a: CkksCiphertext) -> CkksCiphertext:
        a = self._check(a)
        out = sealapi.Ciphertext()
        with seal_errors("a negation"):
            self._evaluator.negate(a.seal, out)
        return self._wrap(out, a.level, a.pending_rescale)

    # -- rotations -------------------------------------------------------
    def rotation_path(self, step: int) -> list[int]:
        """Keyed steps whose sum is ``step``: ``[step]`` when it has its own key,
        else a greedy composition from same-sign keyed steps (a public context
        with fewer Galois keys trades bytes for extra rotations)."""
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
            raise ParameterError(f"a rotation step must be an integer, not {step!r}")
        step = int(step)
        if abs(step) >= self.slot_count:
            # also keeps the greedy composition below from looping over a huge step
            raise ParameterError(f"rotation step {step} is not in (-{self.slot_count}, {self.slot_count})")
        if self._galois_keys is None:
            raise ParameterError("this context has no Galois keys: rotations are impossible")
        return compose_rotation(step, self.rotation_steps)

    def rotate(self, a: CkksCiphertext, step: int) -> CkksCiphertext:
        """Cyclic rotation of the slots, left by ``step`` (negative: right)."""
        a = self._check(a)
        seal = a.seal
        for part in self.rotation_path(step):
            out = sealapi.Ciphertext()
            with seal_errors("a rotation"):
                self._evaluator.rotate_vector(seal, part, self._galois_keys, out)
            self.counts.rotations += 1
            seal = out
        return self._wrap(seal, a.level, a.pending_rescale)

    def rotate_sum(self, a: CkksCiphertext, steps: Iterable[int]) -> CkksCiphertext:
        """``x += rotate(x, s)`` for each step: with steps 1, 2, 4, ... each slot
        ends up holding the sum of a window of 2^k slots."""
        for step in steps:
            a = self.add(a, self.rotate(a, step))
        return a
