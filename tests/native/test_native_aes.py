"""AES-128-CTR keystreams: known answers from FIPS/NIST and agreement with `cryptography`
for every code path (VAES/AES-NI dispatch, the portable C++ path, the numpy reference)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import he_learn._native as native
import he_learn._native.reference as reference
from native_cases import requires_native

cryptography = pytest.importorskip("cryptography")
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: E402

pytestmark = requires_native


def expected_keystream(key: bytes, counter: bytes, n: int) -> bytes:
    return Cipher(algorithms.AES(key), modes.CTR(counter)).encryptor().update(bytes(n))


def portable(key: bytes, counter: bytes, n: int) -> np.ndarray:
    return native._core.aes_ctr_bytes_portable(key, counter, n)


PATHS = {
    "dispatch": native.aes_ctr_bytes,
    "portable": portable,
    "reference": reference.aes_ctr_bytes,
}

# NIST SP 800-38A, F.5.1 (CTR-AES128.Encrypt): keystream = ciphertext XOR plaintext.
SP800_38A_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
SP800_38A_COUNTER = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
SP800_38A_PLAIN = bytes.fromhex("6bc1bee22e409f96e93d7e117393172a")
SP800_38A_CIPHER = bytes.fromhex("874d6191b620e3261bef6864990db6ce")


@pytest.mark.parametrize("path", sorted(PATHS))
def test_nist_sp800_38a_first_block(path):
    stream = bytes(PATHS[path](SP800_38A_KEY, SP800_38A_COUNTER, 16))
    assert bytes(a ^ b for a, b in zip(stream, SP800_38A_PLAIN)) == SP800_38A_CIPHER


# Counters chosen to carry across the low 64-bit word and to wrap the full 128 bits.
COUNTERS = [
    bytes(16),
    bytes.fromhex("000000000000000000000000fffffff0"),
    bytes.fromhex("0000000000000000fffffffffffffffa"),
    bytes.fromhex("fffffffffffffffffffffffffffffffd"),
    bytes(range(16)),
]


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("counter", COUNTERS, ids=lambda c: c.hex()[-6:])
@pytest.mark.parametrize("n", [0, 1, 15, 16, 17, 127, 255, 256, 257, 4096 + 9])
def test_keystream_matches_cryptography(path, counter, n):
    key = bytes(range(100, 116))
    got = PATHS[path](key, counter, n)
    assert got.dtype == np.uint8 and got.shape == (n,)
    assert bytes(got) == expected_keystream(key, counter, n)


@settings(max_examples=40, deadline=None)
@given(key=st.binary(min_size=16, max_size=16), counter=st.binary(min_size=16, max_size=16),
       n=st.integers(0, 3000))
def test_random_keys_and_counters(key, counter, n):
    want = expected_keystream(key, counter, n)
    assert bytes(native.aes_ctr_bytes(key, counter, n)) == want
    assert bytes(portable(key, counter, n)) == want


def test_long_stream_matches_cryptography():
    key, counter = bytes(range(16)), bytes.fromhex("0000000000000000ffffffffffffff00")
    n = (1 << 20) + 3
    assert bytes(native.aes_ctr_bytes(key, counter, n)) == expected_keystream(key, counter, n)


def test_ring_words_are_little_endian_keystream():
    key, counter = bytes(range(16)), bytes(range(16, 32))
    words = native.aes_ctr_ring(key, counter, 33)
    raw = expected_keystream(key, counter, 33 * 8)
    assert words.dtype == np.int64 and words.shape == (33,)
    assert words.tolist() == [int.from_bytes(raw[8 * i : 8 * i + 8], "little", signed=True)
                              for i in range(33)]
    np.testing.assert_array_equal(reference.aes_ctr_ring(key, counter, 33), words)


@pytest.mark.parametrize("q", [2, 3, 7, 1000003, 2**31 - 1, 2**61 - 1, 2**62 - 57, 3 * 2**60])
@pytest.mark.parametrize("n", [0, 1, 100, 5000])
def test_mod_sampling_matches_reference_and_definition(q, n):
    key, counter = bytes(range(16)), bytes.fromhex("0000000000000000fffffffffffffff0")
    values, used = native.aes_ctr_mod(key, counter, n, q)
    ref_values, ref_used = reference.aes_ctr_mod(key, counter, n, q)
    np.testing.assert_array_equal(values, ref_values)
    assert used == ref_used
    # Recompute Lemire's rule from the raw words with Python integers.
    words = native.aes_ctr_ring(key, counter, used).view(np.uint64).tolist()
    threshold = ((1 << 64) - q) % q
    accepted = [(w * q) >> 64 for w in words if (w * q) % (1 << 64) >= threshold]
    assert accepted == values.tolist()
    assert used == 0 or (words[-1] * q) % (1 << 64) >= threshold  # last word was used


def test_cpu_features_reports_booleans():
    feats = native.cpu_features()
    assert {"aesni", "avx2", "avx512"} <= set(feats)
    assert all(isinstance(v, bool) for v in feats.values())
