"""Multi-array model updates flatten to one vector and back, and aggregate as such."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from he_learn.errors import ParameterError
from he_learn.federated import flatten_arrays, unflatten_arrays

shapes_strategy = st.lists(st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple), min_size=1, max_size=4)


@settings(max_examples=25, deadline=None)
@given(shapes=shapes_strategy)
def test_flatten_round_trips(shapes):
    arrays = [np.arange(int(np.prod(s)), dtype=np.float32).reshape(s) + i for i, s in enumerate(shapes)]
    vector, found = flatten_arrays(arrays)
    assert found == tuple(shapes) and vector.dtype == np.float64
    for original, restored in zip(arrays, unflatten_arrays(vector, found)):
        np.testing.assert_array_equal(original, restored)


def test_layers_aggregate_layer_by_layer(holder, run_round):
    layers = [[np.full((2, 3), v), np.full(4, -v)] for v in (1.0, 3.0)]
    vectors, shapes = zip(*(flatten_arrays(layer) for layer in layers))
    result, spec, _ = run_round(holder, np.stack(vectors), [1, 1])
    result = result.average
    weight, bias = unflatten_arrays(result, shapes[0])
    np.testing.assert_allclose(weight, np.full((2, 3), 2.0), atol=1e-4)
    np.testing.assert_allclose(bias, np.full(4, -2.0), atol=1e-4)


@pytest.mark.parametrize("bad", [[], np.zeros(3), "abc"])
def test_flatten_refuses_non_lists(bad):
    with pytest.raises(ParameterError):
        flatten_arrays(bad)


def test_unflatten_checks_sizes():
    with pytest.raises(ParameterError, match="hold 6"):
        unflatten_arrays(np.zeros(5), [(2, 3)])
    with pytest.raises(ParameterError):
        unflatten_arrays(np.zeros((2, 2)), [(4,)])
    with pytest.raises(ParameterError):
        unflatten_arrays(np.zeros(2), [(-1, -2)])
