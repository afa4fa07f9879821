"""Wine (3 classes) and digits (10 classes), split and standardised the same way for every test."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

DATASETS = ("wine", "digits")
# Gradient steps per data set: 300 brings one-vs-rest on digits within a point of
# scikit-learn's L-BFGS fit (at "auto" learning rates).
ITERATIONS = {"wine": 100, "digits": 300}


@lru_cache(maxsize=None)
def load(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits, load_wine
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    loader = {"wine": load_wine, "digits": load_digits}[name]
    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), y_train, scaler.transform(X_test), y_test
