"""Masked refresh: the key holder re-encrypts a ciphertext it cannot read.

Threat model: the trainer and the key holder are honest-but-curious and do not
collude (docs/design.md, "CKKS roles"). The trainer never holds the secret key; the key
holder must not learn the weights it refreshes. Refresh is an *interactive
round*: one message to the key holder, one back. Each one is counted.

Protocol (after the "decrypt-and-re-encrypt with masking" used by, e.g., Kim et
al., "Logistic regression model training based on the approximate homomorphic
encryption", BMC Medical Genomics 2018, and Jiang et al.'s SecureLR):

1. The trainer draws a mask m with every slot uniform in [-B, B] from its
   ``Csprng`` and computes ct' = ct + m (a plaintext addition, no level used).
2. The trainer sends ct' (an envelope) to the key holder.
3. The key holder decrypts v = w + m + e (e: CKKS noise) and sends back a fresh
   encryption of v at the top level.
4. The trainer subtracts m and continues with a fresh ciphertext of w + e.

What the key holder learns: v per slot. CKKS decryption error is *absolute*, so
the mask hides w only statistically: for two values w, w' in [-R, R] the
distributions of w + m and w' + m differ by |w - w'| / (2B) <= R / B in
statistical distance, per slot and per refresh. B is bounded two ways:

- modulus headroom at the refresh level: (|w| + B) * S_l < Q_l / 2, else the
  masked value wraps around. :func:`mask_bound` takes B = 2^(h - 1) where
  h = floor(log2(Q_l / 2) - log2(S_l)) is the headroom in bits, so any |w| up to
  B still decrypts correctly;
- float64 decoding: SEAL decodes through doubles, so the decoded v carries a
  relative rounding error near 2^-52, an absolute error of about B * 2^-52 on w;
  :data:`MAX_MASK_BITS` = 26 keeps that at 1.5e-8, below the CKKS noise.

Every value the key holder decrypts is checked (the review found silent
wrap-around): :meth:`he_learn.he.keys.KeyHolder.decrypt` refuses values beyond
``MAX_VALUE_FRACTION`` of the headroom, and a refresh
(:class:`he_learn.he.key_holder_service.TrainingKeyHolder`) refuses masked values
beyond ``B + W`` with ``W = MAX_WEIGHT_FRACTION * B`` the largest weight (or
score) a refresh carries. :func:`mask_bound` picks the largest power of two B
with ``B + W`` inside the decryption limit, so an honest value never trips the
check, while a value that outgrew W shows up as ``|w + m| > B + W`` in a
fraction ``(|w| - W) / 2B`` of the slots, and a wrapped one lands anywhere in
``(-H, H)`` and trips it in at least a third of the slots. Either way the key
holder raises ``PrecisionError`` naming the remedies.

Figures (computed by :func:`mask_bound`, checked in tests): 'training' (q0 = 44
bits, scale ~2^26.08 at level 0, headroom H = 2^16.9) refreshes at level 0 with
B = 2^15 and W = 2^14, so a slot holding a value with |w| <= R = 1 is hidden up
to statistical distance 2^-15 ~ 3e-5 per refresh; 'training-linear' (q0 = 60
bits, scale 2^32, H = 2^27) gets B = 2^25, W = 2^24 and 3e-8. A split step
refreshes scores one level higher, where B reaches the float64 cap 2^26.
A larger q0 for 'training' does not fit: SEAL's special prime must be at least
as large as q0 and the five 26-bit primes leave 218 - 130 = 88 bits for both.

Over a run the hiding wears off: every refresh hands the key holder a
fresh masked copy of every slot, and every weight occupies ``group`` slots.
The masks are independent across slots and refreshes, so by the hybrid
argument (statistical distance of a sequence of adaptively chosen, freshly
masked values is at most the sum of the per-step distances) the key holder's
whole view of a run is within

    sum over refreshed ciphertexts of  slot_count * R / B

of its view for any other values in [-R, R] (:data:`HIDDEN_MAGNITUDE` = R = 1);
:class:`MaskLeakage` adds it up (``whole_view``; ``per_slot`` is the same sum
for one slot position, and a weight's bound is ``group`` times that). A
250-refresh Framingham run with 'training' (group 256) reaches
250 * 256 * 2^-15 = 1.95 per weight and 250 * 4096 * 2^-15 = 31 for the whole
view: no hiding at all over the run. The bound is reported as
``training_report_["mask_distance_bound"]``. Presets with
``mask_domain="coefficients"`` (:mod:`he_learn.he.coefficient_mask`,
'training-masked-40') mask the plaintext polynomial's integer coefficients with
83- to 89-bit uniform masks instead, which no float64 decoding limits, and reach
below 2^-40 for the whole view of a run.

Activation range (logistic objective): the trainer cannot see whether the
sigmoid's inputs u = X w / s stay in the polynomial's interval [-1, 1], so at
every step it sends the key holder, along with the next message it sends anyway
(the next refresh, or the final weights: no extra round),
``rho_i * (u_i^2 - (1 + RANGE_SLACK)^2)`` for each training sample, with
``rho_i = 2^U``, U uniform in [0, RANGE_FLAG_BITS] from its ``Csprng``, on one
copy of each sample only. The key holder counts the positive values and warns or
raises (``activation_policy``). It learns, per step, which samples' inputs left
the interval (one bit per sample: with X known, a half-space constraint on w)
and |u_i^2 - (1 + RANGE_SLACK)^2| only up to the unknown factor rho_i (a blur
of RANGE_FLAG_BITS bits in the logarithm).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from he_learn._native import Csprng
from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.errors import ParameterError
from he_learn.he import coefficient_mask, envelope
from he_learn.he.ciphertext import CkksCiphertext
from he_learn.he.evaluator import CkksEngine

__all__ = [
    "MAX_MASK_BITS",
    "MAX_WEIGHT_FRACTION",
    "HIDDEN_MAGNITUDE",
    "RANGE_FLAG_BITS",
    "RANGE_SLACK",
    "mask_bound",
    "mask_bits",
    "slot_mask_distance",
    "MaskLeakage",
    "max_refreshed_value",
    "range_flags",
    "range_flag",
    "range_flag_factors",
    "KeyHolderChannel",
    "masked_refresh",
]

# float64 has a 53-bit mantissa; 2^26 leaves an absolute decoding error ~2^-26.
MAX_MASK_BITS = 26

# W / B: the largest |value| a refresh carries, relative to the mask half-width.
# Half of B keeps B + W inside the decryption limit with a band above it where
# overgrown or wrapped values are caught (module doc); a weight near W would be
# poorly hidden (distance W / B) and far beyond any sensible model anyway.
MAX_WEIGHT_FRACTION = 0.5

# R in the module doc: the statistical-distance bounds are stated for values
# (weights, scores) with |v| <= R; larger values are hidden proportionally less.
HIDDEN_MAGNITUDE = 1.0

# Range flags: rho = 2^U with U uniform in [0, RANGE_FLAG_BITS] blurs the
# magnitude the key holder sees by up to 2^20 ~ 1e6, while rho * u^2 stays far
# inside level 1's headroom (2^42 on 'training') for |u| up to 2^10.
RANGE_FLAG_BITS = 20
# Inputs within 0.1% of the interval's edge are not flagged: CKKS noise (~1e-6)
# never trips the check, and the polynomial is still within its fit there.
RANGE_SLACK = 1e-3
# The flags are sent at this level (one or two primes: a fraction of the bytes).
_RANGE_FLAG_LEVEL = 1


def mask_bound(engine: CkksEngine, level: int) -> float:
    """The mask half-width B for a refresh at ``level``: the largest power of two
    with ``B * (1 + MAX_WEIGHT_FRACTION)`` within the level's decryption limit
    (see module doc), capped at 2^MAX_MASK_BITS."""
    limit = engine.max_value_at(level) / (1 + MAX_WEIGHT_FRACTION)
    bits = min(math.floor(math.log2(limit)), MAX_MASK_BITS)
    if bits < 1:
        raise ParameterError(
            f"level {level} has {math.log2(engine.headroom_at(level)):.1f} bits of headroom, too little for a "
            "refresh mask: choose a preset whose first prime is at least 10 bits above the scale"
        )
    return float(2**bits)


def slot_mask_distance(engine: CkksEngine, level: int) -> float:
    """Statistical distance bound ``R / B`` for one slot of one slot-domain refresh at ``level``."""
    return HIDDEN_MAGNITUDE / mask_bound(engine, level)


def mask_bits(engine: CkksEngine, level: int) -> float:
    """log2 of the mask half-width in value units, whatever the preset's mask domain."""
    if engine.params.mask_domain == "coefficients":
        return coefficient_mask.coefficient_mask_bits(engine, level) - math.log2(engine.scale_at(level))
    return math.log2(mask_bound(engine, level))


@dataclass
class MaskLeakage:
    """Statistical-distance bounds on what the key holder's refresh decryptions
    reveal, summed over a run (module doc): its whole view, and one slot
    position (a weight's bound is ``group`` times the latter)."""

    whole_view: float = 0.0
    per_slot: float = 0.0

    def add(self, engine: CkksEngine, level: int, domain: str | None = None) -> None:
        """One masked ciphertext at ``level``, masked in ``domain`` (default: the preset's)."""
        if (domain or engine.params.mask_domain) == "coefficients":
            distance = coefficient_mask.coefficient_mask_distance(engine, level, HIDDEN_MAGNITUDE)
            # a bound for the whole ciphertext bounds every slot of it too
            self.whole_view += distance
            self.per_slot += distance
        else:
            self.whole_view += engine.slot_count * slot_mask_distance(engine, level)
            self.per_slot += slot_mask_distance(engine, level)


def max_refreshed_value(engine: CkksEngine, level: int) -> float:
    """``B + W``: the largest masked value an honest refresh at ``level`` shows."""
    return mask_bound(engine, level) * (1 + MAX_WEIGHT_FRACTION)


def range_flag_factors(layout: FeatureMajorLayout, stream: Csprng, n_blocks: int) -> np.ndarray:
    """The ``rho`` of :func:`range_flag` for ``n_blocks`` blocks, ``(n_blocks, period)``,
    drawn from the trainer's ``Csprng`` in block order."""
    return 2.0 ** np.asarray(stream.uniform((n_blocks, layout.period), 0.0, float(RANGE_FLAG_BITS)), dtype=np.float64)


def range_flag(engine: CkksEngine, square: CkksCiphertext, rho: np.ndarray) -> CkksCiphertext:
    """Trainer side: ``rho * (u^2 - (1 + RANGE_SLACK)^2)`` on the first copy of each
    sample of one block (module doc), from its squared scores ``u^2`` (the
    polynomial evaluation computes them anyway) and its ``rho``
    (:func:`range_flag_factors`); zero elsewhere, at level 1 or below. Uses one
    level of that copy; the training chain itself is untouched."""
    first_copy = np.zeros(engine.slot_count)
    first_copy[: rho.shape[0]] = rho
    flag = engine.multiply_plain(engine.add_plain(square, -((1.0 + RANGE_SLACK) ** 2)), first_copy)
    return engine.drop_to(flag, min(flag.level, _RANGE_FLAG_LEVEL))


def range_flags(
    engine: CkksEngine, squares: Sequence[CkksCiphertext], layout: FeatureMajorLayout, stream: Csprng
) -> list[CkksCiphertext]:
    """:func:`range_flag` for every block of squared scores ``u^2``, with fresh ``rho``."""
    rho = range_flag_factors(layout, stream, len(squares))
    return [range_flag(engine, square, factors) for square, factors in zip(squares, rho)]


class KeyHolderChannel(Protocol):
    """The key holder's refresh, as the trainer sees it: one interactive round;
    arguments and results are envelopes. The trainer's
    :class:`~he_learn.he.trainer.KeyHolderClient` implements it over a
    communicator; the key holder's side is
    :class:`~he_learn.he.key_holder_service.TrainingKeyHolder`."""

    def refresh(self, masked: Sequence[bytes], range_flags: Sequence[bytes] = ()) -> list[bytes]: ...


def masked_refresh(
    engine: CkksEngine,
    values: Sequence[CkksCiphertext],
    channel: KeyHolderChannel,
    stream: Csprng,
    leakage: MaskLeakage,
    flags: Sequence[bytes] = (),
) -> list[CkksCiphertext]:
    """Steps 1-4 of the module docstring for several ciphertexts in one round;
    returns them at the top level and adds their bounds to ``leakage``. ``flags``
    (range flags, module doc) ride along in the same round. The channel's
    communicator counts the round and its bytes."""
    if not values:
        raise ParameterError("nothing to refresh")
    coefficients = engine.params.mask_domain == "coefficients"
    masks: list = []
    outgoing = []
    for value in values:
        if coefficients:
            mask = coefficient_mask.draw_mask(engine, value.level, stream)
            masked = coefficient_mask.add_mask(engine, value, mask)
        else:
            bound = mask_bound(engine, value.level)
            mask = np.asarray(stream.uniform((engine.slot_count,), -bound, bound), dtype=np.float64)
            masked = engine.add_plain(value, mask)
        leakage.add(engine, value.level)
        masks.append(mask)
        outgoing.append(envelope.pack(masked))
    replies = channel.refresh(outgoing, flags) if flags else channel.refresh(outgoing)
    if len(replies) != len(outgoing):
        raise ParameterError(f"the key holder returned {len(replies)} ciphertexts for {len(outgoing)}")
    if coefficients:
        return [
            coefficient_mask.remove_mask(engine, envelope.load(engine, reply), mask, value.level)
            for reply, mask, value in zip(replies, masks, values)
        ]
    return [engine.sub_plain(envelope.load(engine, reply), mask) for reply, mask in zip(replies, masks)]
