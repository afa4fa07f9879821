"""The encrypted value the engine passes around: a SEAL ciphertext that knows its
level, its exact scale and the key it was made under.

Threat model: a ciphertext reveals nothing without the secret key (CKKS, RLWE,
128-bit parameters checked in :mod:`he_learn.he.security`). Its level, scale and
key fingerprint are public metadata and travel in the clear.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from he_learn.errors import ParameterError

__all__ = ["CkksCiphertext", "OpCounts"]


class CkksCiphertext:
    """One SEAL ciphertext plus public metadata. Immutable from the outside:
    engine operations return new objects."""

    __slots__ = ("seal", "level", "fingerprint", "pending_rescale")

    def __init__(self, seal: Any, level: int, fingerprint: str, pending_rescale: bool = False) -> None:
        self.seal = seal
        self.level = level
        self.fingerprint = fingerprint
        # True after a product whose rescale is deferred (scale S_l^2): rotations
        # done in this state add their key-switching noise before the division
        # by q_l, which then shrinks it by ~2^scale_bits.
        self.pending_rescale = pending_rescale

    @property
    def scale(self) -> float:
        return float(self.seal.scale)

    def __bool__(self) -> bool:
        """Always raises: the truth value is unknown without the secret key.

        ``ParameterError`` (a ``ValueError``, like numpy's ambiguous-truth-value
        error), deliberately not the ``ProtocolError`` a ``SharedTensor`` raises:
        for shares a truth value would need an interactive comparison (a protocol
        step the caller must request explicitly), whereas a ciphertext has no
        protocol that could ever answer it, so asking is a misuse of the argument.
        Both derive from ``HeLearnError``; the packed vectors and matrices in
        :mod:`he_learn.he.packed` raise the same ``ParameterError``.
        """
        raise ParameterError("the truth value of an encrypted value is unknown without the secret key")

    def __repr__(self) -> str:
        pending = ", rescale pending" if self.pending_rescale else ""
        return f"CkksCiphertext(level={self.level}, log2(scale)={math.log2(self.scale):.3f}, key={self.fingerprint[:8]}{pending})"


@dataclass
class OpCounts:
    """Homomorphic operations performed, for the training report and benchmarks."""

    rotations: int = 0
    multiplications: int = 0  # ciphertext x ciphertext (with relinearisation)
    plain_multiplications: int = 0
    additions: int = 0
    encryptions: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)
