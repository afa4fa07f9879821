"""Parameter presets, the HE standard's 128-bit table and the no-secret-key rule."""

from __future__ import annotations

import numpy as np
import pytest
import tenseal as ts

from he_learn.errors import ParameterError, PrecisionError, SecurityError
from he_learn.he.evaluator import CkksEngine
from he_learn.he.inference import EncryptedEvaluator
from he_learn.he.keys import KeyHolder, PublicContext
from he_learn.he.presets import PRESETS, TUTORIAL1, CkksParameters, get_preset
from he_learn.he.security import MAX_MODULUS_BITS_128, check_security, require_public

UNSAFE = CkksParameters("unsafe", 4096, (60, 40, 40, 60), 40, "test: 200 bits at N=4096")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_128_bit_and_cites_a_source(name):
    preset = PRESETS[name]
    check_security(preset)
    assert preset.total_modulus_bits <= MAX_MODULUS_BITS_128[preset.poly_modulus_degree]
    assert preset.source and preset.levels == len(preset.coeff_mod_bit_sizes) - 2


def test_unsafe_parameters_raise_unless_opted_out():
    with pytest.raises(SecurityError, match="128-bit"):
        check_security(UNSAFE)
    with pytest.raises(SecurityError, match="allow_insecure"):
        KeyHolder(UNSAFE)
    check_security(UNSAFE, allow_insecure=True)
    # SEAL itself enforces the same table, so the opt-out cannot build the context
    with pytest.raises(ParameterError, match="SEAL refused"):
        KeyHolder(UNSAFE, allow_insecure=True)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"poly_modulus_degree": 3000},
        {"coeff_mod_bit_sizes": (40,)},
        {"coeff_mod_bit_sizes": (60, 40, 40)},  # special prime smaller than q0
        {"coeff_mod_bit_sizes": (61, 40, 61)},
        {"scale_bits": 60},
    ],
)
def test_malformed_parameters_raise(kwargs):
    base = {"name": "x", "poly_modulus_degree": 8192, "coeff_mod_bit_sizes": (60, 40, 60), "scale_bits": 40, "source": "t"}
    with pytest.raises(ParameterError):
        CkksParameters(**{**base, **kwargs})


def test_unknown_preset_names_the_choices():
    with pytest.raises(ParameterError, match="training"):
        get_preset("fast")


def test_engine_refuses_primes_far_from_the_scale():
    holder = KeyHolder(TUTORIAL1)
    with pytest.raises(PrecisionError, match="primes"):
        holder.engine()


def test_server_side_entry_points_refuse_a_secret_key(linear_holder):
    private = linear_holder.tenseal_context
    with pytest.raises(SecurityError, match="secret key"):
        require_public(private, "test")
    with pytest.raises(SecurityError):
        CkksEngine.for_server(private)
    with pytest.raises(SecurityError):
        EncryptedEvaluator(linear_holder)
    # a "public" context whose bytes secretly carry the secret key is caught on load
    smuggled = PublicContext(linear_holder.params, (), linear_holder.fingerprint, private.serialize(save_secret_key=True))
    with pytest.raises(SecurityError, match="secret key"):
        smuggled.engine()


def test_public_context_has_no_secret_key_and_only_the_requested_galois_keys(linear_holder):
    public = linear_holder.public_context([1, -4])
    loaded = ts.context_from(public.data)  # stock TenSEAL reads it
    assert not loaded.is_private() and loaded.has_galois_keys() and loaded.has_relin_keys()
    engine = public.engine()
    value = engine.encrypt([1.0, 2.0, 3.0])
    engine.rotate(value, 1)
    with pytest.raises(ParameterError, match="Galois key"):
        engine.rotate(value, -1)  # no key and no composition from -4
    full = linear_holder.tenseal_context.copy()
    full.generate_galois_keys()
    assert public.nbytes < len(full.serialize(save_secret_key=False)) / 3


def test_fingerprint_mismatch_is_a_security_error(linear_holder, other_holder):
    public = other_holder.public_context([1])
    forged = PublicContext(public.params, public.rotation_steps, linear_holder.fingerprint, public.data)
    with pytest.raises(SecurityError, match="fingerprint"):
        forged.engine()


def test_corrupted_public_context_keys_are_refused(linear_holder):
    """Review finding: only the public key was fingerprinted, so a corrupted
    relinearisation or Galois key loaded and computed garbage."""
    from he_learn.errors import CommunicationError

    public = linear_holder.public_context([1, 2])
    assert public.data_sha256 is not None
    rng = np.random.default_rng(5)  # public test randomness
    for _ in range(3):
        corrupted = bytearray(public.data)
        corrupted[int(rng.integers(len(corrupted) // 4, len(corrupted)))] ^= 0x10
        tampered = PublicContext(public.params, public.rotation_steps, public.fingerprint, bytes(corrupted), public.data_sha256)
        with pytest.raises(CommunicationError, match="SHA-256"):
            tampered.engine()
    unhashed = PublicContext(public.params, public.rotation_steps, public.fingerprint, public.data)
    with pytest.raises(SecurityError, match="data_sha256"):
        unhashed.engine()
