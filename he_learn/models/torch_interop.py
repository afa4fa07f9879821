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
