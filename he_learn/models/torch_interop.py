"""Hand a fitted he_learn model to PyTorch.

torch is an optional dependency: it is imported here, inside the function, and
nowhere else in the library's core.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from he_learn.errors import BackendUnavailableError

__all__ = ["linear_module"]


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise BackendUnavailableError(
            "to_torch() needs PyTorch, which is not installed: pip install 'he_learn[torch]' "
            "(in development, with -c constraints.txt)"
        ) from exc
    return torch


def linear_module(coef: np.ndarray, intercept: Any, dtype: Any = None) -> Any:
    """A ``torch.nn.Linear(n_features, K)`` whose weight is ``coef`` ((n_features,) for
    K = 1, or (K, n_features)) and bias ``intercept`` (a float or K values; no bias
    when None). ``dtype`` defaults to torch's default dtype.

    For a LogisticRegression the module outputs the logits; apply ``torch.sigmoid``
    (binary: the probability of ``classes_[1]``) or ``torch.softmax`` (multinomial).
    """
    torch = _torch()
    dtype = torch.get_default_dtype() if dtype is None else dtype
    coef = np.asarray(coef, dtype=np.float64)
    coef = coef.reshape(1, -1) if coef.ndim == 1 else coef
    module = torch.nn.Linear(coef.shape[1], coef.shape[0], bias=intercept is not None, dtype=dtype)
    with torch.no_grad():
        module.weight.copy_(torch.as_tensor(coef, dtype=dtype))
        if intercept is not None:
            module.bias.copy_(torch.as_tensor(np.asarray(intercept, dtype=np.float64).reshape(-1), dtype=dtype))
    return module


def sequential_module(coefs: Any, intercepts: Any, polynomial: Any = None, dtype: Any = None) -> Any:
    """``torch.nn.Sequential`` of ``Linear`` layers with the given weights ((fan_in, fan_out)
    matrices, as scikit-learn's ``coefs_``) and, between them, ``torch.nn.ReLU`` or, for a
    polynomial activation (a :class:`~he_learn.approximations.PolynomialApproximation`),
    a module evaluating that polynomial. The last layer outputs the scores."""
    torch = _torch()
    dtype = torch.get_default_dtype() if dtype is None else dtype

    class Polynomial(torch.nn.Module):  # defined here: torch is imported only on demand
        """``sum_k c_k x^k`` elementwise (the network's polynomial activation)."""

        def __init__(self, coefficients: tuple[float, ...], name: str) -> None:
            super().__init__()
            self.coefficients = tuple(float(c) for c in coefficients)
            self.name = name

        def forward(self, x: Any) -> Any:
            out = torch.zeros_like(x)
            for c in reversed(self.coefficients):
                out = out * x + c
            return out

        def extra_repr(self) -> str:
            return f"{self.name}: {self.coefficients}"

    modules: list[Any] = []
    for index, (W, b) in enumerate(zip(coefs, intercepts)):
        if index:
            modules.append(torch.nn.ReLU() if polynomial is None else Polynomial(polynomial.coefficients, polynomial.name))
        modules.append(linear_module(np.asarray(W, dtype=np.float64).T, np.asarray(b, dtype=np.float64), dtype=dtype))
    return torch.nn.Sequential(*modules)
