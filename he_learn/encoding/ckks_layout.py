"""Slot-packing layouts for CKKS: where each number of a matrix goes in the slots.

Pure numpy, no TenSEAL: the engine in :mod:`he_learn.he.packed` encrypts the
arrays built here and rotates by the steps listed here.

The feature-major layout
------------------------
A CKKS ciphertext has ``slot_count`` slots. The layout splits them into
``d_pad`` *groups* of ``group = slot_count / d_pad`` consecutive slots, one group
per feature (``d_pad`` is the number of features rounded up to a power of two).
Inside a group, sample ``i`` of the ciphertext's ``period`` samples sits at
position ``i``, and when the ciphertext holds fewer samples than the group has
slots the pattern repeats (``tile = group / period`` copies). So::

    slot(feature j, sample i, copy t) = j * group + t * period + i

A matrix X (n x d) needs ``ceil(n / period)`` ciphertexts, each holding a
different block of ``period`` rows (zero rows pad the last one).

Why this layout (compared with one sample per ``d_pad``-slot block):

- ``z = X @ w``: multiply by w replicated over each feature's group, then
  rotate-and-sum across groups (steps ``group, 2*group, ...``). The sum wraps
  around the whole ciphertext, so *every* group ends up holding z: the residual
  is already laid out for the backward pass, with no mask and no replication.
- ``g = X.T @ r``: multiply, add the ciphertexts, rotate-and-sum inside groups
  (steps ``1, 2, ..., period/2``). Only the first slots of a group hold the full
  sum, so a mask keeps them (the learning rate rides on that mask for free) and
  a rotate-and-sum with negative steps replicates them back over the group:
  that is the weights' layout again.
- Per step that is ``log2(d_pad)`` rotations per ciphertext forward and
  ``log2(group)`` once backward: for Framingham (9 features + intercept, 780
  samples, 8192 slots) 2 x 4 + 9 + 9 = 26 rotations, for the XOR reservoir
  (256 features, 4 samples, 4096 slots) 8 + 2 + 2 = 12.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from he_learn.errors import ParameterError

__all__ = ["FeatureMajorLayout", "next_power_of_two"]


def next_power_of_two(n: int) -> int:
    """Smallest power of two >= n (n >= 1)."""
    if n < 1:
        raise ParameterError(f"need a positive size, not {n}")
    return 1 << (int(n) - 1).bit_length()


def _log2(n: int) -> int:
    return int(n).bit_length() - 1


@dataclass(frozen=True)
class FeatureMajorLayout:
    """Feature-major packing of an ``n_samples x n_features`` matrix (see module doc)."""

    n_samples: int
    n_features: int
    slot_count: int

    def __post_init__(self) -> None:
        for name in ("n_samples", "n_features", "slot_count"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ParameterError(f"{name} must be a positive integer, not {value!r}")
        if self.slot_count & (self.slot_count - 1):
            raise ParameterError(f"slot_count must be a power of two, not {self.slot_count}")
        if next_power_of_two(self.n_features) > self.slot_count:
            raise ParameterError(
                f"{self.n_features} features do not fit in one ciphertext of {self.slot_count} slots; "
                "use a larger poly_modulus_degree"
            )

    # -- geometry --------------------------------------------------------
    @property
    def d_pad(self) -> int:
        return next_power_of_two(self.n_features)

    @property
    def group(self) -> int:
        """Slots per feature group."""
        return self.slot_count // self.d_pad

    @property
    def period(self) -> int:
        """Distinct samples per ciphertext."""
        return min(self.group, next_power_of_two(self.n_samples))

    @property
    def tile(self) -> int:
        return self.group // self.period

    @property
    def n_ciphertexts(self) -> int:
        return -(-self.n_samples // self.period)

    @property
    def head(self) -> int:
        """Slots at the head of each group that hold the full in-group sum.

        A window of ``period`` slots starting at position i stays inside its
        group when i <= group - period; with at least two copies that covers a
        whole period, otherwise only position 0."""
        return self.period if self.tile >= 2 else 1

    # -- rotation steps (positive = rotate left) ---------------------------
    @property
    def feature_sum_steps(self) -> tuple[int, ...]:
        return tuple(self.group << k for k in range(_log2(self.d_pad)))

    @property
    def sample_sum_steps(self) -> tuple[int, ...]:
        return tuple(1 << k for k in range(_log2(self.period)))

    @property
    def replicate_steps(self) -> tuple[int, ...]:
        return tuple(-(self.head << k) for k in range(_log2(self.group // self.head)))

    @property
    def rotation_steps(self) -> tuple[int, ...]:
        """Every step the training loop rotates by: the Galois keys to generate."""
        return tuple(sorted(set(self.feature_sum_steps + self.sample_sum_steps + self.replicate_steps)))

    def key_steps(self, economy: bool = False) -> tuple[int, ...]:
        """Galois keys to generate. ``economy=True`` keeps every other power of
        two in each family (1, 4, 16, ... times the family's base, plus its
        largest step), so a step without a key costs two rotations: about half
        the public context for about 1.5x the rotations."""
        if not economy:
            return self.rotation_steps
        kept: set[int] = set()
        for family in (self.feature_sum_steps, self.sample_sum_steps, self.replicate_steps):
            kept.update(family[::2])
            if family:
                kept.add(family[-1])
        return tuple(sorted(kept))

    # -- packing ---------------------------------------------------------
    def blocks_range(self, start: int = 0, stop: int | None = None) -> tuple[int, int]:
        """``(start, stop)`` checked as a range of this layout's ciphertexts."""
        stop = self.n_ciphertexts if stop is None else stop
        for value in (start, stop):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ParameterError(f"a block index is an integer, not {value!r}")
        if not 0 <= start < stop <= self.n_ciphertexts:
            raise ParameterError(f"blocks [{start}, {stop}) are not a range within the {self.n_ciphertexts} ciphertexts")
        return int(start), int(stop)

    @staticmethod
    def _check_matrix_rows(rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.float64)
        if not np.all(np.isfinite(rows)):
            raise ParameterError("the matrix holds NaN or infinite values")
        return rows

    def pack_matrix(self, X: np.ndarray, start: int = 0, stop: int | None = None) -> np.ndarray:
        """(stop - start, slot_count) slot arrays for ciphertexts ``start`` to
        ``stop - 1`` of X (default: all of them); only their rows are read, so a
        data owner can encrypt a large X a few blocks at a time."""
        start, stop = self.blocks_range(start, stop)
        X = np.asarray(X)
        if X.shape != (self.n_samples, self.n_features):
            raise ParameterError(f"expected a {(self.n_samples, self.n_features)} matrix, got shape {X.shape}")
        rows = X[start * self.period : stop * self.period]
        rows = self._check_matrix_rows(rows)
        padded = np.zeros(((stop - start) * self.period, self.d_pad))
        padded[: rows.shape[0], : self.n_features] = rows
        blocks = padded.reshape(stop - start, self.period, self.d_pad).transpose(0, 2, 1)
        return np.tile(blocks, (1, 1, self.tile)).reshape(stop - start, self.slot_count)

    def pack_samples(self, v: np.ndarray, start: int = 0, stop: int | None = None) -> np.ndarray:
        """(stop - start, slot_count): a per-sample value replicated over every
        feature group, for ciphertexts ``start`` to ``stop - 1`` (default: all)."""
        start, stop = self.blocks_range(start, stop)
        v = np.asarray(v)
        if v.shape != (self.n_samples,):
            raise ParameterError(f"expected {self.n_samples} per-sample values, got shape {v.shape}")
        values = np.asarray(v[start * self.period : stop * self.period], dtype=np.float64)
        if not np.all(np.isfinite(values)):
            raise ParameterError("the values hold NaN or infinite entries")
        padded = np.zeros((stop - start) * self.period)
        padded[: values.shape[0]] = values
        blocks = padded.reshape(stop - start, 1, self.period)
        return np.tile(blocks, (1, self.d_pad, self.tile)).reshape(stop - start, self.slot_count)

    def pack_weights(self, w: np.ndarray) -> np.ndarray:
        """(slot_count,): weight j replicated over group j (padded groups hold 0)."""
        w = np.asarray(w, dtype=np.float64)
        if w.shape != (self.n_features,):
            raise ParameterError(f"expected {self.n_features} weights, got shape {w.shape}")
        padded = np.zeros(self.d_pad)
        padded[: self.n_features] = w
        return np.repeat(padded, self.group)

    @property
    def weight_slots(self) -> np.ndarray:
        """Every slot of the real weights' groups (weight j's copies are
        ``weight_slots[j * group : (j + 1) * group]``), padded groups left out."""
        return np.arange(self.n_features * self.group, dtype=np.int64)

    def weights_from_slots(self, values: np.ndarray) -> np.ndarray:
        """Weights from the values at :attr:`weight_slots` (the mean of each group's
        copies, as :meth:`unpack_weights`)."""
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (self.n_features * self.group,):
            raise ParameterError(f"expected {self.n_features * self.group} slot values, got shape {values.shape}")
        return values.reshape(self.n_features, self.group).mean(axis=1)

    def sample_slots(self, block: int) -> np.ndarray:
        """The slots of ciphertext ``block`` that hold its real samples' first copies
        (feature group 0, copy 0)."""
        start, _ = self.blocks_range(block, block + 1)
        return np.arange(min(self.period, self.n_samples - start * self.period), dtype=np.int64)

    # -- packed per-sample flags (one value per sample, several blocks per ciphertext) --
    @property
    def blocks_per_pack(self) -> int:
        """Blocks whose first-copy sample slots ``[0, period)`` share one ciphertext,
        block ``k`` of a pack shifted to ``[k * period, (k + 1) * period)``. With one
        block there is nothing to share; with several, ``period == group`` and the
        shifts are multiples of ``group``, which the feature sums' keys compose."""
        return 1 if self.n_ciphertexts == 1 else self.slot_count // self.period

    @property
    def n_packs(self) -> int:
        return -(-self.n_ciphertexts // self.blocks_per_pack)

    def pack_shift(self, block: int) -> tuple[int, int]:
        """``(pack, left rotation)`` that moves block ``block``'s first-copy slots
        to their place in its pack (a rotation of 0: already in place)."""
        self.blocks_range(block, block + 1)
        pack, position = divmod(block, self.blocks_per_pack)
        return pack, (self.slot_count - position * self.period) % self.slot_count

    def unpack_packed_samples(self, packs: np.ndarray) -> np.ndarray:
        """Per-sample values from ``(n_packs, slot_count)`` packed slot arrays."""
        packs = np.asarray(packs, dtype=np.float64)
        if packs.shape != (self.n_packs, self.slot_count):
            raise ParameterError(f"expected {(self.n_packs, self.slot_count)} packed slots, got shape {packs.shape}")
        per_block = packs.reshape(self.n_packs * self.blocks_per_pack, -1)[:, : self.period] if self.blocks_per_pack > 1 \
            else packs[:, : self.period]
        return per_block.reshape(-1)[: self.n_samples]

    def head_mask(self, value: float = 1.0) -> np.ndarray:
        """``value`` on the first :attr:`head` slots of each real feature's group, 0 elsewhere."""
        mask = np.zeros((self.d_pad, self.group))
        mask[: self.n_features, : self.head] = value
        return mask.reshape(-1)

    def sample_mask(self) -> np.ndarray:
        """(n_ciphertexts, slot_count): 1 where a real sample sits, 0 on padding rows."""
        return self.pack_samples(np.ones(self.n_samples))

    # -- unpacking -------------------------------------------------------
    def unpack_weights(self, slots: np.ndarray) -> np.ndarray:
        """Weights from a weights-layout slot array (the mean over each group's copies,
        which averages the CKKS noise down)."""
        slots = np.asarray(slots, dtype=np.float64)
        if slots.shape != (self.slot_count,):
            raise ParameterError(f"expected {self.slot_count} slots, got shape {slots.shape}")
        return slots.reshape(self.d_pad, self.group)[: self.n_features].mean(axis=1)

    def unpack_samples(self, slots: np.ndarray) -> np.ndarray:
        """Per-sample values from (n_ciphertexts, slot_count) arrays in the samples layout
        (read from feature group 0, first copy)."""
        slots = np.asarray(slots, dtype=np.float64)
        if slots.shape != (self.n_ciphertexts, self.slot_count):
            raise ParameterError(f"expected {(self.n_ciphertexts, self.slot_count)} slots, got shape {slots.shape}")
        firsts = slots.reshape(self.n_ciphertexts, self.d_pad, self.tile, self.period)[:, 0, 0, :]
        return firsts.reshape(-1)[: self.n_samples]

    def describe(self) -> dict[str, int | str]:
        """Plain-data description, carried in ciphertext envelopes."""
        return {
            "kind": "feature-major",
            "n_samples": int(self.n_samples),
            "n_features": int(self.n_features),
            "slot_count": int(self.slot_count),
        }
