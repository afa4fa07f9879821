"""The key holder: the one party that holds the CKKS secret key.

Threat model (docs/design.md, roles 2 and 3): the data owner is the key holder and
keeps the CKKS secret key. The trainer (or evaluator, or aggregator) receives a
:class:`~he_learn.he.public_context.PublicContext` (re-exported here): the
public key, the relinearisation keys and Galois keys for exactly the rotation
steps its computation uses, and no secret key. Both are honest-but-curious. SEAL
generates every key with its own cryptographic PRNG (Blake2xb seeded from the
operating system); he_learn's own randomness (refresh masks) comes from
``he_learn._native.Csprng``.

Exact decryptions (:meth:`KeyHolder.decrypt_internal`) never leave the key
holder: a ciphertext plus its exact decryption reveals the secret key (Li and
Micciancio 2021). Whatever is sent goes through :func:`he_learn.he.release.release`,
which spends this key's :class:`~he_learn.he.flooding.ReleaseBudget`.

The public context travels as a stock TenSEAL context serialisation, so
``tenseal.context_from(public_context.data)`` loads it. Its Galois keys are made
with SEAL's ``KeyGenerator.create_galois_keys(galois_elements)`` in the seeded
form (half of each key is regenerated from a seed on load) and spliced into the
TenSEAL message (the relinearisation keys likewise), because TenSEAL's own
``generate_galois_keys()`` makes the full set (about 35 MB at N=8192). A key
*fingerprint* (truncated SHA-256 of the serialised public key) identifies the key
pair everywhere; how a receiver checks a public context is in
:mod:`he_learn.he.public_context`.
"""

from __future__ import annotations

import hashlib
from typing import Any, Iterable

import numpy as np
import tenseal as ts
import tenseal.sealapi as sealapi

from he_learn._native import Csprng
from he_learn.errors import CommunicationError, ParameterError, PrecisionError, SecurityError
from he_learn.he import envelope
from he_learn.he.ciphertext import CkksCiphertext
from he_learn.he.flooding import FloodingPolicy, ReleaseBudget
from he_learn.he.evaluator import MAX_VALUE_FRACTION, CkksEngine, galois_element
from he_learn.he.presets import TRAINING, CkksParameters, get_preset
from he_learn.he.public_context import PublicContext, normalise_steps
from he_learn.he.seal_io import GALOIS_KEYS_FIELD, RELIN_KEYS_FIELD, save_seal, seal_errors, set_context_keys
from he_learn.he.security import check_security, fingerprint_bytes

__all__ = ["KeyHolder", "PublicContext", "decrypt"]


class KeyHolder:
    """Holds the secret key: creates public contexts, encrypts, decrypts, refreshes.

    ``allow_insecure=True`` skips the 128-bit parameter check (explicit opt-out).
    ``release_policy`` fixes, for the lifetime of this key, the statistical
    security and the number of values :func:`he_learn.he.release.release` may
    release (``release_budget`` counts them; ``noise_stream`` is the private
    ``Csprng`` the flooding noise comes from: it never leaves this object).
    """

    def __init__(
        self,
        params: CkksParameters | str = TRAINING,
        *,
        allow_insecure: bool = False,
        release_policy: FloodingPolicy | None = None,
    ) -> None:
        self.params = get_preset(params)
        check_security(self.params, allow_insecure=allow_insecure)
        try:
            context = ts.context(
                ts.SCHEME_TYPE.CKKS,
                poly_modulus_degree=self.params.poly_modulus_degree,
                coeff_mod_bit_sizes=list(self.params.coeff_mod_bit_sizes),
            )
        except ValueError as exc:
            # SEAL builds its contexts at sec_level tc128 and TenSEAL does not expose
            # the setting, so an opted-out insecure set still ends here.
            raise ParameterError(
                f"SEAL refused preset {self.params.name!r} ({exc}); TenSEAL always enforces the 128-bit table, "
                "so allow_insecure cannot lift it"
            ) from exc
        self._adopt(context, release_policy)

    def _adopt(self, context: Any, release_policy: FloodingPolicy | None) -> None:
        """Bind this key holder to a private TenSEAL ``context`` of ``self.params``."""
        if release_policy is not None and not isinstance(release_policy, FloodingPolicy):
            raise ParameterError(f"release_policy must be a FloodingPolicy, not {type(release_policy).__name__}")
        self.release_budget = ReleaseBudget(release_policy or FloodingPolicy())
        self.noise_stream = Csprng()
        self._context = context
        self._context.global_scale = self.params.scale
        self.fingerprint = fingerprint_bytes(save_seal(self._context.data.public_key()))
        self._engine: CkksEngine | None = None
        self._decryptor = sealapi.Decryptor(self._context.data.seal_context(), self._context.data.secret_key())
        self._symmetric = sealapi.Encryptor(self._context.data.seal_context(), self._context.data.secret_key())
        self._encoder = sealapi.CKKSEncoder(self._context.data.seal_context())

    # -- the secret key at rest ----------------------------------------------
    def secret_bytes(self) -> bytes:
        """The private context (secret, public and relinearisation keys) as bytes,
        for a key holder that runs as one process per request (a Flower ClientApp
        starts anew for every message). They hold the secret key: store them
        only where the key holder alone can read them (mode 0600), never send them.
        The release budget is not in them: keep it beside them (the federated
        ``RoundRegistry`` does), or a restart would reset it."""
        return self._context.serialize(save_secret_key=True, save_galois_keys=False, save_relin_keys=True)

    @classmethod
    def from_secret_bytes(
        cls, params: CkksParameters | str, data: bytes, *, release_policy: FloodingPolicy | None = None
    ) -> "KeyHolder":
        """The key holder :meth:`secret_bytes` saved, checked against ``params``.

        Refused: bytes that are no TenSEAL context (``CommunicationError``), a
        context without a secret key, for another ring or modulus chain than
        ``params`` (its 128-bit check included), or whose public key does not
        belong to its secret key, found by a test encryption (``SecurityError``).
        The fingerprint is recomputed from the key in the bytes.
        """
        params = get_preset(params)
        check_security(params)
        if not isinstance(data, (bytes, bytearray)):
            raise CommunicationError(f"the saved key holder must be bytes, not {type(data).__name__}")
        try:
            context = ts.context_from(bytes(data))
        except Exception as exc:  # TenSEAL raises bare ValueError/RuntimeError on bad bytes
            raise CommunicationError(f"the saved key holder is not a TenSEAL context: {exc}") from None
        if not context.is_private():
            raise SecurityError("the saved key holder holds no secret key")
        key_parms = context.data.seal_context().key_context_data().parms()
        primes = tuple(m.bit_count() for m in key_parms.coeff_modulus())
        if key_parms.poly_modulus_degree() != params.poly_modulus_degree or primes != params.coeff_mod_bit_sizes:
            raise SecurityError(
                f"the saved key holder was made for N={key_parms.poly_modulus_degree()}, primes {primes}, "
                f"not preset {params.name!r}"
            )
        holder = cls.__new__(cls)
        holder.params = params
        holder._adopt(context, release_policy)
        holder._check_key_pair()
        return holder

    def _check_key_pair(self) -> None:
        """A public-key encryption of zeros must decrypt to fresh noise: about
        N / 6 / scale per slot (he_learn.he.release), far below 10 N / scale.
        Under a public key of another secret key it decrypts to values of the
        order of the modulus headroom."""
        engine = self.engine()
        level = engine.top_level
        noise = np.asarray(self._encoder.decode_double(self._decrypt_plain(engine.encrypt(0.0, level))))
        if not np.all(np.abs(noise) < 10 * self.params.poly_modulus_degree / engine.scale_at(level)):
            raise SecurityError("the saved key holder's public key does not belong to its secret key")

    def __repr__(self) -> str:
        return f"KeyHolder(params={self.params.name!r}, key={self.fingerprint[:8]})"

    # -- contexts ----------------------------------------------------------
    def public_context(self, rotation_steps: Iterable[int] = ()) -> PublicContext:
        """Public, relinearisation and only the requested Galois keys; no secret key."""
        steps = normalise_steps(rotation_steps, self.params.slot_count)
        data = self._context.serialize(
            save_public_key=True, save_secret_key=False, save_galois_keys=False, save_relin_keys=False
        )
        generator = sealapi.KeyGenerator(self._context.data.seal_context(), self._context.data.secret_key())
        # SEAL's Serializable keys save in the seeded form: half of each key is
        # regenerated from a seed on load, halving the bytes on the wire.
        keys = {RELIN_KEYS_FIELD: save_seal(generator.create_relin_keys())}
        if steps:
            elements = sorted({galois_element(s, self.params.poly_modulus_degree) for s in steps})
            # A list of non-negative ints selects the create_galois_keys(galois_elts) overload.
            keys[GALOIS_KEYS_FIELD] = save_seal(generator.create_galois_keys(elements))
        data = set_context_keys(data, keys)
        return PublicContext(self.params, steps, self.fingerprint, data, hashlib.sha256(data).hexdigest())

    def engine(self) -> CkksEngine:
        """The key holder's own engine (no rotations): for encrypting data."""
        if self._engine is None:
            self._engine = CkksEngine(self._context, self.params, self.fingerprint)
        return self._engine

    @property
    def tenseal_context(self) -> Any:
        """The private TenSEAL context (holds the secret key: never send it)."""
        return self._context

    # -- encryption ------------------------------------------------------
    def encrypt(self, values: Any, level: int | None = None) -> CkksCiphertext:
        return self.engine().encrypt(values, level)

    def encrypt_envelope(self, values: Any, level: int | None = None, layout: dict[str, Any] | None = None) -> bytes:
        """Encrypt straight to an envelope with the secret key (symmetric CKKS).

        SEAL then stores the ciphertext's random half as a seed, so the bytes are
        about half those of a public-key encryption; only the key holder can do
        this, and the result is an ordinary ciphertext for everyone else.
        """
        engine = self.engine()
        level = engine.top_level if level is None else level
        return self.encrypt_plaintext_envelope(engine.encode(values, level), level, layout=layout)

    def encrypt_plaintext_envelope(self, plaintext: Any, level: int, layout: dict[str, Any] | None = None) -> bytes:
        """:meth:`encrypt_envelope` of a ready ``sealapi.Plaintext`` at ``level``
        (the coefficient-domain refresh builds its plaintext from integers)."""
        with seal_errors("encryption"):
            seeded = self._symmetric.encrypt_symmetric(plaintext)
        return envelope.pack_seal_bytes(
            save_seal(seeded), level, float(plaintext.scale), self.fingerprint, layout=layout,
            n_values=self.params.slot_count,
        )

    def decrypt_internal_plaintext(self, value: CkksCiphertext) -> Any:
        """The raw decrypted ``sealapi.Plaintext`` (NTT form), for the
        coefficient-domain refresh: same rule as :meth:`decrypt_internal`, it
        never leaves the key holder."""
        if not isinstance(value, CkksCiphertext) or value.fingerprint != self.fingerprint:
            raise SecurityError("only ciphertexts made under this key holder's key can be decrypted here")
        return self._decrypt_plain(value)

    def _decrypt_plain(self, value: CkksCiphertext) -> Any:
        plaintext = sealapi.Plaintext()
        with seal_errors("decryption"):
            self._decryptor.decrypt(value.seal, plaintext)
        return plaintext

    def decrypt_internal(self, value: CkksCiphertext) -> np.ndarray:
        """All ``slot_count`` slot values (real parts), decrypted *exactly*.

        The result must not leave the key holder: a ciphertext together with its
        exact decryption gives linear equations in the secret key (Li and
        Micciancio, EUROCRYPT 2021; ``tests/he/test_release_attack.py`` recovers
        the key from one aggregate). Use it only where the values stay here,
        such as the masked refresh, which re-encrypts them. Everything that is
        sent anywhere goes through :func:`he_learn.he.release.release`.
        """
        return self.decrypt_internal_complex(value).real.copy()

    # Kept for the call sites that have not moved to release() yet (see
    # docs/design.md, "Releases and noise flooding"); same contract as decrypt_internal.
    decrypt = decrypt_internal

    def decrypt_internal_complex(self, value: CkksCiphertext) -> np.ndarray:
        """The complex slot values, exactly (same rule as :meth:`decrypt_internal`).

        he_learn encodes real values only, so the imaginary parts are pure
        decryption error: :mod:`he_learn.he.release` measures its noise bound on
        them and never releases them."""
        if not isinstance(value, CkksCiphertext):
            raise ParameterError(f"expected a CkksCiphertext, got {type(value).__name__}")
        if value.fingerprint != self.fingerprint:
            raise SecurityError(
                f"this ciphertext was made under key {value.fingerprint[:8]}, not this key holder's "
                f"{self.fingerprint[:8]}: decrypting it would give garbage"
            )
        engine = self.engine()
        level = engine.level_of(value.seal)
        plaintext = sealapi.Plaintext()
        with seal_errors("decryption"):
            self._decryptor.decrypt(value.seal, plaintext)
            slots = np.asarray(self._encoder.decode_complex(plaintext), dtype=np.complex128)
        self._check_plausible(slots.real, engine.headroom_at(level, value.seal.scale), level)
        return slots

    @staticmethod
    def _check_plausible(slots: np.ndarray, headroom: float, level: int) -> None:
        """Refuse a decryption no genuine he_learn value can give (see the
        evaluator's module doc on headroom).

        A ciphertext under another key, or with corrupted coefficients, decrypts
        to near-uniform residues mod Q_l: slot values of order
        ``sqrt(N) * headroom``. A value that outgrew the headroom wraps to
        somewhere in ``(-headroom, headroom)``. he_learn encodes nothing above
        ``MAX_VALUE_FRACTION * headroom``, so anything beyond it is one or the other.
        """
        largest = float(np.max(np.abs(slots))) if slots.size else 0.0
        if not np.isfinite(largest) or largest > headroom:
            raise SecurityError(
                f"decryption gave values up to {largest:.3g}, beyond the modulus headroom {headroom:.3g} at level "
                f"{level}: the ciphertext was not made under this key, was corrupted, or a computation overflowed "
                "far past the headroom"
            )
        if largest > MAX_VALUE_FRACTION * headroom:
            raise PrecisionError(
                f"decryption gave values up to {largest:.3g} at level {level}, in the top of the modulus headroom "
                f"({headroom:.3g}) where wrapped-around results land: the computation overflowed. Lower the "
                "learning rate, scale the features down, or choose a preset with more headroom (a larger first prime)"
            )


def decrypt(holder: Any, value: CkksCiphertext | bytes) -> np.ndarray:
    """Decrypt a ciphertext or an envelope with a :class:`KeyHolder`, exactly:
    the result stays with the key holder (see :meth:`KeyHolder.decrypt_internal`).

    Raises ``SecurityError`` for anything that cannot hold the secret key (a
    :class:`PublicContext`, an engine) and for a ciphertext made under another key.
    """
    if not isinstance(holder, KeyHolder):
        raise SecurityError(
            f"only the key holder can decrypt; a {type(holder).__name__} holds no secret key by design"
        )
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = envelope.load(holder.engine(), bytes(value))
    return holder.decrypt_internal(value)
