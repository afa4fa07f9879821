"""Hand a fitted he_learn model to PyTorch.

torch is an optional dependency: it is imported here, inside the function, and
nowhere else in the library's core.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from he_learn.errors import BackendUnavailableError

__all__ = ["linear_module"]


def linear_module(coef: np.ndarray, intercept: float | None, dtype: Any = None) -> Any:
    """A ``torch.nn.Linear(len(coef), 1)`` whose weight is ``coef`` and bias ``intercept``
    (no bias when ``intercept`` is None). ``dtype`` defaults to torch's default dtype.

    For a LogisticRegression the module outputs the logit; apply ``torch.sigmoid``
    for the probability of ``classes_[1]``.
    """
    try:
        import torch
    except ImportError as exc:
        raise BackendUnavailableError(
            "to_torch() needs PyTorch, which is not installed: pip install 'he_learn[torch]' "
            "(in development, with -c constraints.txt)"
        ) from exc
    dtype = torch.get_default_dtype() if dtype is None else dtype
    coef = np.asarray(coef, dtype=np.float64).reshape(1, -1)
    module = torch.nn.Linear(coef.shape[1], 1, bias=intercept is not None, dtype=dtype)
    with torch.no_grad():
        module.weight.copy_(torch.as_tensor(coef, dtype=dtype))
        if intercept is not None:
            module.bias.fill_(float(intercept))
    return module
