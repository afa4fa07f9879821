"""Shared key holders: key generation is the slow part, so each preset's keys are
made once per test session. Tests never mutate them. ``hostile`` builds the
messages a peer could send that he_learn never makes (for the hardening and
fuzz tests)."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np
import pytest
import tenseal.sealapi as sealapi

from he_learn.he import envelope
from he_learn.he.keys import KeyHolder, PublicContext
from he_learn.he.seal_io import save_seal
from he_learn.he.presets import CkksParameters

# The smallest 128-bit set with one level, for tests that load thousands of messages.
SMALL = CkksParameters("small", 4096, (30, 25, 30), 25, "tests: N=4096, 85 <= 109 bits (Albrecht et al. 2018)")


@pytest.fixture(scope="session")
def linear_holder() -> KeyHolder:
    return KeyHolder("training-linear")


@pytest.fixture(scope="session")
def training_holder() -> KeyHolder:
    return KeyHolder("training")


@pytest.fixture(scope="session")
def other_holder() -> KeyHolder:
    """A second, unrelated key pair with the same parameters as linear_holder."""
    return KeyHolder("training-linear")


@pytest.fixture(scope="session")
def small_holder() -> KeyHolder:
    """The smallest 128-bit set with one level, for tests that load thousands of
    messages (fuzzing): N=4096, [30, 25, 30] is 85 of the 109 bits the HE standard
    allows there (Albrecht et al. 2018, table 1)."""
    return KeyHolder(SMALL)



class Hostile:
    """Envelopes and public contexts a peer could send that he_learn never makes,
    built with the lower-level calls an attacker would use (sealapi, raw bytes)."""

    def __init__(self, holder: KeyHolder) -> None:
        self.holder = holder
        self.engine = holder.engine()

    def envelope_around(self, seal: Any, level: int, n_values: int = 8) -> bytes:
        """A valid-looking envelope (canonical header scale, right digest) around ``seal``."""
        scale = self.engine.scale_at(level)
        return envelope.pack_seal_bytes(save_seal(seal), level, scale, self.holder.fingerprint, n_values=n_values)

    def with_scale(self, scale: float) -> bytes:
        """A fresh ciphertext whose SEAL-internal scale is ``scale`` (SEAL loads NaN, inf, -1)."""
        value = self.engine.encrypt(np.arange(8.0) / 8)
        value.seal.scale = scale
        return self.envelope_around(value.seal, value.level)

    def of_size(self, size: int) -> bytes:
        level = self.engine.top_level
        if size == 0:
            seal = sealapi.Ciphertext(self.engine.seal_context)  # size 0: SEAL's rotation segfaulted on it
            seal.scale = self.engine.scale_at(level)
        else:
            fresh = self.engine.encrypt([0.5]).seal
            seal = sealapi.Ciphertext()
            sealapi.Evaluator(self.engine.seal_context).multiply(fresh, fresh, seal)  # size 3, not relinearised
            seal.scale = self.engine.scale_at(level)
        return self.envelope_around(seal, level)

    def not_ntt(self) -> bytes:
        value = self.engine.encrypt([0.5])
        sealapi.Evaluator(self.engine.seal_context).transform_from_ntt_inplace(value.seal)
        return self.envelope_around(value.seal, value.level)

    def transparent(self) -> bytes:
        seal = sealapi.Ciphertext(self.engine.seal_context)
        seal.resize(2)  # two zero polynomials: "encrypts" zero under no key at all
        seal.scale = self.engine.scale_at(self.engine.top_level)
        return self.envelope_around(seal, self.engine.top_level)

    def mislevelled(self) -> bytes:
        """A level-0 ciphertext whose header claims the top level."""
        low = self.engine.drop_to(self.engine.encrypt([0.5]), 0)
        return self.envelope_around(low.seal, self.engine.top_level)

    def envelopes(self) -> dict[str, bytes]:
        out = {f"scale={s}": self.with_scale(s) for s in (math.nan, math.inf, -math.inf, -1.0, 1e300)}
        out.update(
            {
                "size 0": self.of_size(0),
                "size 3": self.of_size(3),
                "not NTT": self.not_ntt(),
                "transparent": self.transparent(),
                "mislevelled": self.mislevelled(),
            }
        )
        return out

    def public(self, data: bytes, steps: tuple[int, ...] = ()) -> PublicContext:
        """``data`` dressed as a public context with a correct digest (not a MAC)."""
        return PublicContext(self.holder.params, steps, self.holder.fingerprint, data, hashlib.sha256(data).hexdigest())

    def contexts(self) -> dict[str, PublicContext]:
        private = self.holder.tenseal_context
        bare = dict(save_public_key=False, save_secret_key=False, save_galois_keys=False, save_relin_keys=False)
        no_relin = private.serialize(**{**bare, "save_public_key": True})
        with_relin = self.holder.public_context().data
        return {
            "no public key": self.public(private.serialize(**bare)),
            "no relin keys": self.public(no_relin),
            "secret key": self.public(private.serialize(save_secret_key=True)),
            "no Galois keys for its steps": self.public(with_relin, (1,)),
            "Galois keys for other steps": self.public(self.holder.public_context([2]).data, (1,)),
            "empty": self.public(b""),
        }


@pytest.fixture(scope="session")
def hostile(small_holder) -> Hostile:
    return Hostile(small_holder)
