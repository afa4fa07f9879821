"""Multiclass LogisticRegression on shares: one-vs-rest and multinomial, within a point of plain,
step for step with plain up to the fixed-point error."""

from __future__ import annotations

import numpy as np
import pytest

from he_learn import LogisticRegression
from he_learn.errors import ParameterError, PrecisionError

from multiclass_data import ITERATIONS, load

SEED = {"insecure_seed": b"tests/smpc/multiclass"}


def _fit(backend: str, name: str, multi_class: str, **options) -> tuple[LogisticRegression, float]:
    X_train, y_train, X_test, y_test = load(name)
    model = LogisticRegression(backend=backend, max_iter=ITERATIONS[name], multi_class=multi_class, progress=False,
                               backend_options=({**SEED, **options} if backend == "smpc" else None))
    model.fit(X_train, y_train)
    return model, model.score(X_test, y_test)


@pytest.mark.parametrize("multi_class", ["ovr", "multinomial"])
def test_wine_on_shares_is_within_a_point_of_plain(multi_class: str) -> None:
    plain, plain_accuracy = _fit("plain", "wine", multi_class)
    shared, accuracy = _fit("smpc", "wine", multi_class)
    assert accuracy >= plain_accuracy - 0.01
    # Step for step the same algorithm: only the fixed-point error separates the weights.
    np.testing.assert_allclose(shared.coef_, plain.coef_, atol=2e-3)
    assert shared.coef_.shape == (3, 13) and shared.training_report_["n_outputs"] == 3


@pytest.mark.slow
@pytest.mark.parametrize("multi_class", ["ovr", "multinomial"])
def test_digits_on_shares_is_within_a_point_of_plain(multi_class: str) -> None:
    plain, plain_accuracy = _fit("plain", "digits", multi_class)
    shared, accuracy = _fit("smpc", "digits", multi_class)
    assert accuracy >= plain_accuracy - 0.01
    np.testing.assert_allclose(shared.coef_, plain.coef_, atol=5e-3)


def test_three_parties_agree_with_two() -> None:
    two, _ = _fit("smpc", "wine", "multinomial")
    three, _ = _fit("smpc", "wine", "multinomial", n_parties=3)
    np.testing.assert_allclose(two.coef_, three.coef_, atol=1e-3)


def test_the_exact_softmax_cannot_run_on_shares() -> None:
    X_train, y_train, _, _ = load("wine")
    with pytest.raises(ParameterError, match="softmax='limit8'"):
        LogisticRegression(backend="smpc", multi_class="multinomial", softmax="exact", max_iter=2,
                           backend_options=SEED).fit(X_train, y_train)


def test_a_diverging_multinomial_run_is_stopped_by_the_range_check() -> None:
    X_train, y_train, _, _ = load("wine")
    with pytest.raises(PrecisionError, match="softmax stand-in"):
        LogisticRegression(backend="smpc", multi_class="multinomial", learning_rate=200.0, max_iter=20,
                           backend_options=SEED).fit(X_train * 10, y_train)
    with pytest.raises(PrecisionError, match="softmax stand-in"):
        LogisticRegression(multi_class="multinomial", learning_rate=200.0, max_iter=20).fit(X_train * 10, y_train)
