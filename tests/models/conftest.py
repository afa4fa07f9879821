"""Shared fixtures for the estimator tests: small, standardised, deterministic data."""

from __future__ import annotations

import numpy as np
import pytest

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0.0, 1.0, 1.0, 0.0])


@pytest.fixture
def xor() -> tuple[np.ndarray, np.ndarray]:
    """The XOR truth table of the original demos."""
    return XOR_X.copy(), XOR_Y.copy()


@pytest.fixture
def regression_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    rng = np.random.default_rng(7)
    X = rng.standard_normal((80, 4))
    coef = np.array([1.5, -2.0, 0.5, 0.0])
    intercept = 0.75
    y = X @ coef + intercept + 0.01 * rng.standard_normal(80)
    return X, y, coef, intercept


@pytest.fixture
def classification_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    X = rng.standard_normal((120, 3))
    y = (X @ np.array([2.0, -1.0, 0.5]) + 0.3 * rng.standard_normal(120) > 0).astype(int)
    return X, y


@pytest.fixture
def breast_cancer() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), y_train, scaler.transform(X_test), y_test
