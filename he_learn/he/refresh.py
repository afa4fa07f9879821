"""Masked refresh: the key holder re-encrypts a ciphertext it cannot read.

Threat model: the trainer and the key holder are honest-but-curious and do not
collude (DESIGN.md, role 2). The trainer never holds the secret key; the key
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
the mask hides w only statistically: for |w| <= W the distributions of w + m for
two different weights differ by at most W / B in statistical distance, per slot.
B is bounded two ways:

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
B = 2^15 and W = 2^14, so weights with |w| <= 1 are hidden up to statistical
distance 2^-15 ~ 3e-5 per slot; 'training-linear' (q0 = 60 bits, scale 2^32,
H = 2^27) gets B = 2^25, W = 2^24 and 3e-8. A split step refreshes scores one
level higher, where B reaches the float64 cap 2^26. Every weight occupies
``group`` slots, each masked independently, so a key holder averaging them gains
at most a factor ``group`` in distance (below 1e-2 and 1e-5 respectively).
A larger q0 for 'training' does not fit: SEAL's special prime must be at least
as large as q0 and the five 26-bit primes leave 218 - 130 = 88 bits for both.

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
from typing import Protocol, Sequence

import numpy as np

from he_learn._native import Csprng
from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.errors import ParameterError
from he_learn.he import envelope
from he_learn.he.ciphertext import CkksCiphertext
from he_learn.he.evaluator import CkksEngine

__all__ = [
    "MAX_MASK_BITS",
    "MAX_WEIGHT_FRACTION",
    "RANGE_FLAG_BITS",
    "RANGE_SLACK",
    "mask_bound",
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
    flags: Sequence[bytes] = (),
) -> list[CkksCiphertext]:
    """Steps 1-4 of the module docstring for several ciphertexts in one round;
    returns them at the top level. ``flags`` (range flags, module doc) ride along
    in the same round. The channel's communicator counts the round and its bytes."""
    if not values:
        raise ParameterError("nothing to refresh")
    masks = []
    outgoing = []
    for value in values:
        bound = mask_bound(engine, value.level)
        mask = np.asarray(stream.uniform((engine.slot_count,), -bound, bound), dtype=np.float64)
        masks.append(mask)
        outgoing.append(envelope.pack(engine.add_plain(value, mask)))
    replies = channel.refresh(outgoing, flags) if flags else channel.refresh(outgoing)
    if len(replies) != len(outgoing):
        raise ParameterError(f"the key holder returned {len(replies)} ciphertexts for {len(outgoing)}")
    return [engine.sub_plain(envelope.load(engine, reply), mask) for reply, mask in zip(replies, masks)]
