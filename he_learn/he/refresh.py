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

Figures (computed by :func:`mask_bound`, checked in tests): 'training' (q0 = 44
bits, scale ~2^26.08 at level 0) refreshes at level 0 with h = 16, B = 2^15, so
weights with |w| <= 1 are hidden up to statistical distance 2^-15 ~ 3e-5 per
slot; 'training-linear' (q0 = 60 bits, scale 2^32) gets h = 26, B = 2^25 and
3e-8. A split step refreshes scores one level higher, where B reaches the
float64 cap 2^26. Every weight occupies ``group`` slots, each masked
independently, so a key holder averaging them gains at most a factor ``group``
in distance (below 1e-2 and 1e-5 respectively).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from he_learn._native import Csprng
from he_learn.approximations import PolynomialApproximation
from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.errors import ParameterError
from he_learn.he import envelope
from he_learn.he.ciphertext import CkksCiphertext
from he_learn.he.evaluator import CkksEngine
from he_learn.he.keys import KeyHolder
from he_learn.he.polynomial import RangePolicy, check_activation_inputs

__all__ = ["MAX_MASK_BITS", "mask_bound", "KeyHolderChannel", "KeyHolderService", "RefreshLedger", "masked_refresh"]

# float64 has a 53-bit mantissa; 2^26 leaves an absolute decoding error ~2^-26.
MAX_MASK_BITS = 26


def mask_bound(engine: CkksEngine, level: int) -> float:
    """The mask half-width B for a refresh at ``level`` (see module doc)."""
    headroom = math.floor(engine.modulus_bits_at(level) - 1 - math.log2(engine.scale_at(level)))
    bits = min(headroom - 1, MAX_MASK_BITS)
    if bits < 1:
        raise ParameterError(
            f"level {level} has {headroom} bits of headroom, too little for a refresh mask: choose a preset "
            "whose first prime is at least 10 bits above the scale"
        )
    return float(2**bits)


class KeyHolderChannel(Protocol):
    """The key holder's side of the training protocol, as the trainer sees it.
    Every call is one interactive round; arguments and results are envelopes."""

    def refresh(self, masked: Sequence[bytes]) -> list[bytes]: ...

    def residual_sum(self, residuals: Sequence[bytes]) -> float: ...

    def decrypt_weights(self, weights: bytes) -> np.ndarray: ...


@dataclass
class RefreshLedger:
    """Bytes and rounds of every message between trainer and key holder."""

    refreshes: int = 0
    rounds: int = 0
    refresh_bytes: int = 0
    loss_bytes: int = 0
    result_bytes: int = 0


class KeyHolderService:
    """In-process key holder for one training run (implements :class:`KeyHolderChannel`).

    It knows the public layout and, being the data owner, the targets ``y``, so
    it can turn decrypted residuals into ``sum|r|`` and check the activation
    outputs ``r + y`` against the polynomial's range (``policy``: see
    :mod:`he_learn.he.polynomial`). Residuals reveal ``sigma(X w)`` at the
    logged steps, i.e. the current model's predictions, to the key holder.
    """

    def __init__(
        self,
        key_holder: KeyHolder,
        layout: FeatureMajorLayout,
        y: np.ndarray,
        approximation: PolynomialApproximation | None = None,
        policy: RangePolicy = "warn",
    ) -> None:
        self._key_holder = key_holder
        self._engine = key_holder.engine()
        self._layout = layout
        self._y = np.asarray(y, dtype=np.float64)
        self._approximation = approximation
        self._policy = policy
        self.out_of_interval = 0

    def refresh(self, masked: Sequence[bytes]) -> list[bytes]:
        out = []
        for message in masked:
            slots = self._key_holder.decrypt(envelope.load(self._engine, message))
            out.append(self._key_holder.encrypt_envelope(slots))
        return out

    def residual_sum(self, residuals: Sequence[bytes]) -> float:
        slots = np.stack([self._key_holder.decrypt(envelope.load(self._engine, r)) for r in residuals])
        r = self._layout.unpack_samples(slots)
        if self._approximation is not None:
            self.out_of_interval += check_activation_inputs(r + self._y, self._approximation, self._policy)
        return float(np.sum(np.abs(r)))

    def decrypt_weights(self, weights: bytes) -> np.ndarray:
        return self._layout.unpack_weights(self._key_holder.decrypt(envelope.load(self._engine, weights)))


def masked_refresh(
    engine: CkksEngine,
    values: Sequence[CkksCiphertext],
    channel: KeyHolderChannel,
    stream: Csprng,
    ledger: RefreshLedger,
) -> list[CkksCiphertext]:
    """Steps 1-4 of the module docstring for several ciphertexts in one round;
    returns them at the top level."""
    if not values:
        raise ParameterError("nothing to refresh")
    masks = []
    outgoing = []
    for value in values:
        bound = mask_bound(engine, value.level)
        mask = np.asarray(stream.uniform((engine.slot_count,), -bound, bound), dtype=np.float64)
        masks.append(mask)
        outgoing.append(envelope.pack(engine.add_plain(value, mask)))
    replies = channel.refresh(outgoing)
    if len(replies) != len(outgoing):
        raise ParameterError(f"the key holder returned {len(replies)} ciphertexts for {len(outgoing)}")
    fresh = [engine.sub_plain(envelope.load(engine, reply), mask) for reply, mask in zip(replies, masks)]
    ledger.refreshes += 1
    ledger.rounds += 1
    ledger.refresh_bytes += sum(map(len, outgoing)) + sum(map(len, replies))
    return fresh
