"""Every kernel, native and reference, rejects bad input with a ParameterError that
names the problem; nothing crashes, hangs or wraps silently."""

from __future__ import annotations

import numpy as np
import pytest

from he_learn.errors import ParameterError

Q = 97
GOOD = np.arange(6, dtype=np.int64).reshape(2, 3)
KEY = bytes(16)

WRONG_DTYPES = {
    "float64": GOOD.astype(np.float64),
    "int32": GOOD.astype(np.int32),
    "uint64": GOOD.astype(np.uint64),
    "object": GOOD.astype(object),
    "bool": GOOD.astype(bool),
    "list": GOOD.tolist(),
    "big-endian": GOOD.astype(">i8"),
}


def elementwise_calls(x):
    """Each Z_q / ring kernel with x in the first array slot and good values elsewhere."""
    g = GOOD
    return {
        "mod_add": lambda m: m.mod_add(x, g, Q),
        "mod_add_rhs": lambda m: m.mod_add(g, x, Q),
        "mod_sub": lambda m: m.mod_sub(x, g, Q),
        "mod_mul": lambda m: m.mod_mul(x, g, Q),
        "mod_mul_rhs": lambda m: m.mod_mul(g, x, Q),
        "mod_mul_scalar": lambda m: m.mod_mul(x, 3, Q),
        "mod_neg": lambda m: m.mod_neg(x, Q),
        "mod_reduce": lambda m: m.mod_reduce(x, Q),
        "mod_sum": lambda m: m.mod_sum(x, Q),
        "ring_matmul": lambda m: m.ring_matmul(x, g.T.copy()),
        "beaver_mul": lambda m: m.beaver_mul(x, g, g, g, g, True),
        "beaver_mul_f": lambda m: m.beaver_mul(g, g, g, g, x, False),
        "beaver_matmul": lambda m: m.beaver_matmul(x, g.T.copy(), g[:, :2].copy(), g, g.T.copy(), True),
        "ring_shift_right": lambda m: m.ring_shift_right(x, 3),
        "trunc_share": lambda m: m.trunc_share(x, g, g, 3, True),
        "trunc_share_msb": lambda m: m.trunc_share(g, g, x, 3, False),
    }


@pytest.mark.parametrize("dtype_name", sorted(WRONG_DTYPES))
@pytest.mark.parametrize("kernel", sorted(elementwise_calls(GOOD)))
def test_wrong_dtype_or_type(impl, kernel, dtype_name):
    call = elementwise_calls(WRONG_DTYPES[dtype_name])[kernel]
    with pytest.raises(ParameterError, match="int64|array"):
        call(impl)


@pytest.mark.parametrize("op", ["mod_add", "mod_sub", "mod_mul"])
def test_shape_mismatch(impl, op):
    with pytest.raises(ParameterError, match="shape"):
        getattr(impl, op)(GOOD, GOOD.T.copy(), Q)
    with pytest.raises(ParameterError, match="shape"):
        getattr(impl, op)(GOOD, GOOD.reshape(-1), Q)


@pytest.mark.parametrize("q", [-5, 0, 1, 2**62, 2**63, 2**64 + 3, 3.0, "7", True, None])
@pytest.mark.parametrize("op", ["mod_add", "mod_sub", "mod_mul", "mod_neg", "mod_reduce",
                                "mod_sum", "aes_ctr_mod"])
def test_bad_modulus(impl, op, q):
    args = {"mod_neg": (GOOD, q), "mod_reduce": (GOOD, q), "mod_sum": (GOOD, q),
            "aes_ctr_mod": (KEY, KEY, 4, q)}.get(op, (GOOD, GOOD, q))
    with pytest.raises(ParameterError, match="q"):
        getattr(impl, op)(*args)


@pytest.mark.parametrize("offset", [0, 5, None, -1, -2])
@pytest.mark.parametrize("op", ["mod_add", "mod_sub", "mod_mul", "mod_neg", "mod_sum"])
@pytest.mark.parametrize("q", [Q, 2**61 - 1])
def test_entries_outside_range(impl, op, offset, q):
    # q + offset for offset >= 0; None: -1; -1 / -2: the int64 extremes.
    bad = {None: -1, -1: -(2**63), -2: 2**63 - 1}.get(offset, q + (offset or 0))
    x = np.zeros(1000, dtype=np.int64)
    x[777] = bad
    call = {"mod_neg": lambda: impl.mod_neg(x, q), "mod_sum": lambda: impl.mod_sum(x[None], q)}.get(
        op, lambda: getattr(impl, op)(np.zeros_like(x), x, q)
    )
    with pytest.raises(ParameterError, match=r"outside \[0, q\)") as info:
        call()
    assert "777" in str(info.value)


@pytest.mark.parametrize("y", [-1, Q, 2**70, 1.5, "3", True])
@pytest.mark.parametrize("op", ["mod_add", "mod_sub", "mod_mul"])
def test_bad_scalar_operand(impl, op, y):
    with pytest.raises(ParameterError):
        getattr(impl, op)(GOOD, y, Q)


def test_mod_sum_needs_a_share_axis(impl):
    with pytest.raises(ParameterError, match="share axis"):
        impl.mod_sum(np.array(3, dtype=np.int64), Q)


@pytest.mark.parametrize("shapes", [((2, 3), (2, 3)), ((2, 3, 1), (3, 2)), ((3,), (3,)), ((2, 3), (4, 2))])
def test_ring_matmul_shapes(impl, shapes):
    a, b = (np.zeros(s, dtype=np.int64) for s in shapes)
    with pytest.raises(ParameterError, match="2-D|inner"):
        impl.ring_matmul(a, b)


def test_beaver_shapes(impl):
    z = np.zeros
    with pytest.raises(ParameterError, match="shape"):
        impl.beaver_mul(z(3, np.int64), z(3, np.int64), z(4, np.int64), z(3, np.int64), z(3, np.int64), True)
    a, b, c = z((2, 3), np.int64), z((3, 4), np.int64), z((2, 4), np.int64)
    with pytest.raises(ParameterError, match="c has shape"):
        impl.beaver_matmul(a, b, c.T.copy(), a, b, True)
    with pytest.raises(ParameterError, match="shape"):
        impl.beaver_matmul(a, b, c, a.T.copy(), b, True)
    with pytest.raises(ParameterError, match="include_ef"):
        impl.beaver_matmul(a, b, c, a, b, 1)


@pytest.mark.parametrize("bits", [-1, 64, 100, 2.0, None])
def test_shift_bits(impl, bits):
    with pytest.raises(ParameterError, match="bits"):
        impl.ring_shift_right(GOOD, bits)


@pytest.mark.parametrize("bits", [-1, 63, 64])
def test_trunc_bits_and_flags(impl, bits):
    with pytest.raises(ParameterError, match="bits"):
        impl.trunc_share(GOOD, GOOD, GOOD, bits, True)
    with pytest.raises(ParameterError, match="lead"):
        impl.trunc_share(GOOD, GOOD, GOOD, 3, "yes")
    with pytest.raises(ParameterError, match="shape"):
        impl.trunc_share(GOOD, GOOD.T.copy(), GOOD, 3, True)


@pytest.mark.parametrize("key", [bytes(15), bytes(17), b"", "0" * 16, 12345, None])
@pytest.mark.parametrize("op", ["aes_ctr_bytes", "aes_ctr_ring", "aes_ctr_mod"])
def test_bad_key_or_counter(impl, op, key):
    extra = (3, Q) if op == "aes_ctr_mod" else (3,)
    with pytest.raises(ParameterError, match="key16|bytes"):
        getattr(impl, op)(key, KEY, *extra)
    with pytest.raises(ParameterError, match="counter16|bytes"):
        getattr(impl, op)(KEY, key, *extra)


@pytest.mark.parametrize("n", [-1, -(2**40), 2.5, "8", None, True])
@pytest.mark.parametrize("op", ["aes_ctr_bytes", "aes_ctr_ring", "aes_ctr_mod"])
def test_bad_count(impl, op, n):
    extra = (Q,) if op == "aes_ctr_mod" else ()
    with pytest.raises(ParameterError, match="n"):
        getattr(impl, op)(KEY, KEY, n, *extra)
