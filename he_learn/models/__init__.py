"""Estimators, reservoir features and the training backends behind them.

Modules, in dependency order::

    backend         the Backend protocol, TrainingProblem/TrainingConfig/TrainingResult
    plain_backend   the shared algorithm in float64 numpy (the reference)
    smpc_backend    the algorithm on additive shares (he_learn.smpc)
    ckks_backend    the algorithm on CKKS ciphertexts (he_learn.he)
    registry        get_backend(name, **options): lazy lookup of the three above
    progress        tqdm bar and logging driven by a backend's on_iteration callback
    _validation     input checks and numpy/torch conversion for the estimators
    base            the estimator machinery shared by both linear models
    linear          LinearRegression, LogisticRegression (binary, one-vs-rest, multinomial)
    network         a network's architecture, public initialisation and batch order, plaintext SGD
    mlp_training    the same SGD on shares (SPMD)
    mlp             MLPClassifier, MLPRegressor
    reservoir       ReservoirFeatures (random Gaussian projection + ReLU)
    torch_interop   to_torch(): a fitted model as torch.nn.Linear or torch.nn.Sequential

Nothing is imported eagerly: the engines, scikit-learn and torch load on first
use, so ``import he_learn.models.backend`` from an engine stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "LinearRegression": "he_learn.models.linear",
    "LogisticRegression": "he_learn.models.linear",
    "ReservoirFeatures": "he_learn.models.reservoir",
    "MLPClassifier": "he_learn.models.mlp",
    "MLPRegressor": "he_learn.models.mlp",
    "get_backend": "he_learn.models.registry",
    "available_backends": "he_learn.models.registry",
    "BACKEND_NAMES": "he_learn.models.registry",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'he_learn.models' has no attribute {name!r}")
    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    return list(__all__)
