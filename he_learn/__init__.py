"""he_learn: machine learning on data that stays private.

Two cryptographic engines, one estimator API, and benchmarks that compare them:

- ``backend="ckks"``: CKKS homomorphic encryption on TenSEAL (Microsoft SEAL).
- ``backend="smpc"``: additive secret sharing among non-colluding parties, with a
  dealer for Beaver triples; hot loops in the ``he_learn._native`` extension.
- ``backend="plain"``: the same algorithm on plaintext, as the reference.

Modules in dependency order (imports only point down the list)::

    errors, approximations, _native   bottom: error hierarchy, sigmoid stand-ins, C++ kernels
    encoding                          fixed-point <-> ring/field; CKKS slot layouts
    smpc, he                          the two engines, side by side
    models                            estimators (linear, logistic, MLP), ReservoirFeatures, backends
    bench, cli                        benchmarks and the ``he-learn`` console script

Importing he_learn has no side effects; the estimators are loaded on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from he_learn import errors
from he_learn.errors import (
    BackendUnavailableError,
    CommunicationError,
    HeLearnError,
    NotFittedError,
    ParameterError,
    PrecisionError,
    ProtocolError,
    SecurityError,
)

__version__ = "0.1.0"

# Public names resolved lazily (PEP 562), so ``import he_learn`` does not pull in
# scikit-learn, tenseal or the compiled extension until they are needed.
_LAZY = {
    "LinearRegression": "he_learn.models.linear",
    "LogisticRegression": "he_learn.models.linear",
    "ReservoirFeatures": "he_learn.models.reservoir",
    "MLPClassifier": "he_learn.models.mlp",
    "MLPRegressor": "he_learn.models.mlp",
}

__all__ = [
    "LinearRegression",
    "LogisticRegression",
    "ReservoirFeatures",
    "MLPClassifier",
    "MLPRegressor",
    "errors",
    "HeLearnError",
    "ParameterError",
    "SecurityError",
    "PrecisionError",
    "ProtocolError",
    "CommunicationError",
    "NotFittedError",
    "BackendUnavailableError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'he_learn' has no attribute {name!r}")
    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
