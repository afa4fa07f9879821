"""A network trained with a polynomial activation, evaluated on encrypted features:
the key holder's decrypted scores give the plaintext model's predictions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_wine
from sklearn.preprocessing import StandardScaler

from he_learn import MLPClassifier
from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.errors import ParameterError
from he_learn.he.keys import KeyHolder
from he_learn.he.network_inference import NetworkEvaluator, decrypt_logits


@pytest.fixture(scope="module")
def training_holder():
    return KeyHolder("training")


def test_encrypted_wine_scores_match_the_plaintext_network(training_holder):
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X) / 2
    model = MLPClassifier(hidden_layer_sizes=(8,), activation="poly2", max_iter=60, learning_rate_init=0.05,
                          random_state=0, progress=False).fit(X, y)
    layout = FeatureMajorLayout(*X.shape, training_holder.params.slot_count)
    public = training_holder.public_context(layout.feature_sum_steps)  # the model owner's context
    encrypted = [training_holder.engine().encrypt(row) for row in layout.pack_matrix(X)]
    logits = NetworkEvaluator(public, model.encrypted_network()).logits_blocks(encrypted, layout)
    scores = decrypt_logits(training_holder, logits, layout)
    plain = model._scores(X)
    np.testing.assert_allclose(scores, plain, atol=5e-3 * max(1.0, float(np.max(np.abs(plain)))))
    assert np.array_equal(model.classes_[np.argmax(scores, axis=1)], model.predict(X))
    assert model.score(X, y) > 0.9


def test_a_relu_network_has_no_encrypted_form():
    X, y = load_wine(return_X_y=True)
    model = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0, progress=False).fit(X[:, :4], y)
    with pytest.raises(ParameterError, match="poly2"):
        model.encrypted_network()
