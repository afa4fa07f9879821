"""scikit-learn's own estimator checks, on the plain backend, with default parameters."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from he_learn import LinearRegression, LogisticRegression, MLPClassifier, MLPRegressor, ReservoirFeatures


@parametrize_with_checks([LinearRegression(), LogisticRegression(), ReservoirFeatures(n_components=16),
                          MLPClassifier(progress=False), MLPRegressor(progress=False)])
def test_sklearn_estimator_checks(estimator, check) -> None:
    check(estimator)


def test_multiclass_tag() -> None:
    """LogisticRegression is multiclass, so the checks above include scikit-learn's multiclass checks."""
    from sklearn.utils import get_tags

    assert get_tags(LogisticRegression()).classifier_tags.multi_class is True
