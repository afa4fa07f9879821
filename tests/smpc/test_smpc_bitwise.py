"""The bit-sliced comparison (ReLU, its bits, maximum, hard sigmoid) and softmax on shares.

Every test runs in-process and with one thread per party (the ``mpc`` fixture), for 2 and 3
parties; with an insecure seed the threads run must equal the in-process run bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from he_learn.approximations import SoftmaxApproximation
from he_learn.approximations import hard_sigmoid as plain_hard_sigmoid
from he_learn.errors import ParameterError, ProtocolError
from he_learn.smpc import Session
from he_learn.smpc.shared import SharedTensor
from he_learn.smpc.bitwise import relu_bytes
from he_learn.smpc.comparison import comparison_bytes
from he_learn.smpc.rectifier import hard_sigmoid, maximum, relu_with_bits, times_bits
from he_learn.smpc.softmax import softmax

ULP = 2.0**-16
EDGES = np.array([0.0, ULP, -ULP, 1.5, -1.5, 2.0**29, -(2.0**29), 1e-9, -1e-9, 12345.678])


def _encoded(v: np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(v) * 2**16) / 2**16


def test_relu_and_its_bits_on_edge_values(mpc, n_parties: int, seed: bytes) -> None:
    def fn(s: Session) -> tuple:
        x = mpc.share(s, EDGES, s.parties[-1])
        y = mpc.share(s, np.full(EDGES.shape, -2.5), s.parties[0])
        out, bits = relu_with_bits(x, uses=2)
        from he_learn.smpc.shared import SharedTensor

        return out.reveal(), SharedTensor(s, bits.arithmetic(), 0).reveal(), times_bits(y, bits).reveal()

    relu, bits, masked = mpc.value(fn, n_parties, insecure_seed=seed)
    v = _encoded(EDGES)
    np.testing.assert_array_equal(relu, np.maximum(v, 0))
    assert bits.dtype == np.int64 and bits.tolist() == (v >= 0).astype(int).tolist()
    np.testing.assert_array_equal(masked, np.where(v >= 0, -2.5, 0.0))


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=30),
       st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_relu_matches_plaintext(mpc, values: list[float], salt: int) -> None:
    v = np.array(values)
    got = mpc.value(lambda s: relu_with_bits(mpc.share(s, v, "alice"))[0].reveal(), insecure_seed=salt.to_bytes(4, "big"))
    np.testing.assert_array_equal(got, np.maximum(_encoded(v), 0))


def test_cost_is_a_tenth_of_the_arithmetic_comparison(mpc, n_parties: int, seed: bytes) -> None:
    m = 257

    def fn(s: Session) -> None:
        x = mpc.share(s, np.linspace(-3, 3, m), s.parties[0])
        before = s.ledger.snapshot()
        relu_with_bits(x)
        after = s.ledger.snapshot()
        return np.array([after["rounds"] - before["rounds"], after["bytes_sent"] - before["bytes_sent"]])

    out = mpc.run(fn, n_parties, insecure_seed=seed)
    rounds = out[0][0] if not mpc.threads else max(r[0] for r in out)
    sent = sum(int(r[1]) for r in out)
    assert rounds == 8
    assert sent == relu_bytes(m, n_parties)
    assert 9 * relu_bytes(m, n_parties) < comparison_bytes(m, n_parties)


def test_bits_run_out_after_their_uses(mpc) -> None:
    def fn(s: Session) -> None:
        x = mpc.share(s, np.ones(3), "alice")
        _, bits = relu_with_bits(x, uses=1)
        times_bits(x, bits)

    with pytest.raises(ProtocolError, match="no product left"):
        mpc.run(fn, insecure_seed=b"uses")
    with pytest.raises(ParameterError, match="uses"):
        mpc.run(lambda s: relu_with_bits(mpc.share(s, np.ones(3), "alice"), uses=9), insecure_seed=b"uses")


def test_maximum_is_exact_and_one_of_the_inputs(mpc, n_parties: int, seed: bytes) -> None:
    z = np.random.default_rng(3).uniform(-40, 40, (20, 7))
    z[0] = 1.25  # ties
    got = mpc.value(lambda s: maximum(mpc.share(s, z, s.parties[0])).reveal(), n_parties, insecure_seed=seed)
    np.testing.assert_array_equal(got[:, 0], _encoded(z).max(axis=1))


def test_hard_sigmoid_matches_the_plaintext_stand_in(mpc) -> None:
    v = np.linspace(-4, 4, 33)
    got = mpc.value(lambda s: hard_sigmoid(mpc.share(s, v, "bob")).reveal(), insecure_seed=b"hs")
    np.testing.assert_array_equal(got, plain_hard_sigmoid(_encoded(v)))


@pytest.mark.parametrize("n_classes", [2, 3, 10])
def test_softmax_follows_the_plaintext_stand_in(mpc, n_classes: int) -> None:
    approx = SoftmaxApproximation()
    rng = np.random.default_rng(n_classes)
    z = rng.uniform(-approx.input_bound / 2, approx.input_bound / 2, (40, n_classes))
    z[:5] = rng.uniform(-1, 1, (5, n_classes))
    got = mpc.value(lambda s: softmax(mpc.share(s, z, "alice"), approx).reveal(), insecure_seed=b"softmax")
    # The fixed-point error: the final truncation's unit, plus the chain's 2^(t+1-30).
    assert np.max(np.abs(got - approx(_encoded(z)))) <= 2 * ULP
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=n_classes * 2 * ULP)


def test_softmax_refuses_what_it_cannot_do() -> None:
    from he_learn.smpc import share

    s = Session.create(2, insecure_seed=b"refuse")
    with pytest.raises(ParameterError, match="2 classes"):
        softmax(share(s, np.ones((3, 1)), "alice"), SoftmaxApproximation())
    with pytest.raises(ParameterError, match="SoftmaxApproximation"):
        softmax(share(s, np.ones((3, 2)), "alice"), "exact")
    local = Session.create(2, insecure_seed=b"refuse", truncation="local", label="local")
    with pytest.raises(ParameterError, match="truncation='dealer'"):
        softmax(share(local, np.ones((3, 2)), "alice"), SoftmaxApproximation())


@pytest.mark.parametrize("name,args", [
    ("relu_bits", ((3,), -1)), ("relu_bits", ((3,), 5)), ("relu_bits", ((3,),)),
    ("and_triple", ((3, 2), (4, 2))), ("binary_mask", ((1 << 27,),)), ("binary_mask", ((2,), 1)),
])
def test_the_dealer_refuses_malformed_bitwise_requests(name: str, args: tuple) -> None:
    from he_learn.smpc.dealer_service import DealerRequest

    with pytest.raises(ParameterError):
        DealerRequest("fit", name, args).validated()


def test_ge_zero_bits_is_the_comparison_without_the_product(mpc) -> None:
    """The range check's comparison: [x >= 0] exactly, 8 rounds, sign_bytes on the wire."""
    from he_learn.smpc.bitwise import ge_zero_bits, sign_bytes

    values = np.array([-3.0, -1e-4, 0.0, 1e-4, 2.5, -2.0**28, 2.0**28])

    def fn(s: Session):
        x = mpc.share(s, values, "alice")
        before_bytes, before_rounds = s.ledger.bytes_sent, s.ledger.rounds
        bits = ge_zero_bits(s, x.shares)
        spent = (s.ledger.bytes_sent - before_bytes, s.ledger.rounds - before_rounds)
        return SharedTensor(s, bits, 0).reveal(), spent

    out = mpc.run(fn, insecure_seed=b"ge-zero-bits")
    revealed = [r for r, _ in out if r is not None][0]
    encoded = np.round(values * 2**16)
    np.testing.assert_array_equal(revealed, (encoded >= 0).astype(float))
    assert sum(spent[0] for _, spent in out) == sign_bytes(values.size, 2)
    assert {spent[1] for _, spent in out} == {8}
