"""Encrypted inference of a dense network with a polynomial activation: the key
holder's decrypted logits match the plaintext forward pass, and networks the
levels cannot hold are refused before any work."""

from __future__ import annotations

import numpy as np
import pytest

from he_learn.approximations import PolynomialApproximation
from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.errors import ParameterError, PrecisionError
from he_learn.he.network_inference import NetworkEvaluator, PlainNetwork, decrypt_logits

# a degree-2 stand-in for ReLU (the MLP estimators' 'poly2' is a least-squares fit of this shape)
POLY2 = PolynomialApproximation("poly2", (0.25, 0.5, 0.25), (-2.0, 2.0), 0.25, "test: (1 + x)^2 / 4")


def forward(net, X):
    a = X
    for i, (W, b) in enumerate(zip(net.coefs, net.intercepts)):
        if i:
            a = POLY2(a)
        a = a @ W + b
    return a


def network(sizes, seed=4):
    rng = np.random.default_rng(seed)  # public test weights
    coefs = tuple(rng.normal(size=(m, n)) / np.sqrt(m) for m, n in zip(sizes[:-1], sizes[1:]))
    return PlainNetwork(coefs, tuple(rng.normal(size=n) / 4 for n in sizes[1:]), POLY2)


@pytest.fixture(scope="module")
def encrypted(training_holder):
    rng = np.random.default_rng(6)  # public test data
    X = rng.normal(size=(30, 5)) / 3
    layout = FeatureMajorLayout(*X.shape, training_holder.params.slot_count)
    public = training_holder.public_context(layout.feature_sum_steps)
    blocks = [training_holder.engine().encrypt(row) for row in layout.pack_matrix(X)]
    return X, layout, public, blocks


@pytest.mark.parametrize("sizes", [(5, 4, 3), (5, 4, 3, 2)], ids=["one hidden layer", "two hidden layers"])
def test_decrypted_logits_match_the_plaintext_network(training_holder, encrypted, sizes):
    X, layout, public, blocks = encrypted
    net = network(sizes)
    logits = NetworkEvaluator(public, net).logits_blocks(blocks, layout)
    np.testing.assert_allclose(decrypt_logits(training_holder, logits, layout), forward(net, X), atol=1e-3)


def test_a_network_deeper_than_the_levels_is_refused_before_any_work(encrypted):
    _, _, public, _ = encrypted
    with pytest.raises(PrecisionError, match="levels"):
        NetworkEvaluator(public, network((5, 4, 4, 4, 2)))  # 1 + 3 * 2 = 7 levels > 5


def test_relu_and_malformed_networks_are_refused():
    with pytest.raises(ParameterError, match="polynomial"):
        PlainNetwork((np.ones((2, 2)), np.ones((2, 1))), (np.zeros(2), np.zeros(1)), None)
    with pytest.raises(ParameterError, match="inputs"):
        PlainNetwork((np.ones((2, 3)), np.ones((2, 1))), (np.zeros(3), np.zeros(1)), POLY2)
    with pytest.raises(ParameterError, match="finite"):
        PlainNetwork((np.full((2, 2), np.nan),), (np.zeros(2),), None)


def test_the_evaluator_refuses_a_secret_key(training_holder):
    from he_learn.errors import SecurityError

    with pytest.raises(SecurityError):
        NetworkEvaluator(training_holder.tenseal_context, network((5, 2)))  # type: ignore[arg-type]
