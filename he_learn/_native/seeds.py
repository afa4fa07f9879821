"""Reproducible seeds for tests, and nothing else.

Threat model: a seed is a secret; whoever knows it replays every stream derived
from it. he_learn's default is a fresh ``os.urandom`` seed per party, per
session, per mask stream, so a party's private randomness never derives from
anything another party knows. Tests and benchmarks that must repeat a run bit
for bit pass an *insecure* seed, a value every participant (and the reader of
the test) knows: :func:`derive_insecure_seed` turns it and a path of labels
(session, role, purpose) into one 32-byte seed per stream, so two sessions or
two roles never share a stream even under the same insecure seed. The name
says what it is: never use it where the data matters.
"""

from __future__ import annotations

import hashlib
from typing import Union

from he_learn.errors import ParameterError

__all__ = ["InsecureSeed", "derive_insecure_seed", "check_insecure_seed"]

InsecureSeed = Union[bytes, int]
_DOMAIN = b"he_learn/insecure-seed/v1"


def check_insecure_seed(seed: object, what: str = "insecure_seed") -> InsecureSeed | None:
    """``None``, non-empty bytes or a non-negative int; anything else is a ParameterError."""
    if seed is None:
        return None
    if isinstance(seed, (bytes, bytearray)) and seed:
        return bytes(seed)
    if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0:
        return seed
    raise ParameterError(f"{what} must be None (the secure default), non-empty bytes or an int >= 0, not {seed!r}")


def derive_insecure_seed(seed: InsecureSeed | None, *labels: str) -> bytes | None:
    """The 32-byte Csprng seed for the stream named by ``labels`` (None stays None:
    the stream then seeds itself from the operating system)."""
    seed = check_insecure_seed(seed)
    if seed is None:
        return None
    raw = seed if isinstance(seed, bytes) else b"int:" + str(seed).encode()
    path = b"\0".join(label.encode("utf-8") for label in labels)
    return hashlib.sha256(_DOMAIN + b"\0" + len(raw).to_bytes(4, "big") + raw + b"\0" + path).digest()
