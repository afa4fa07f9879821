"""A role's own data file: read locally, by that role only, never sent.

Threat model: the file is the role's private input; it is read in the role's
own process and only ever leaves it as shares or ciphertexts. It is the
caller's own file, so its contents are checked for shape and type, not
treated as hostile bytes.

Formats: ``.npz`` with arrays ``X`` (n, d) and ``y`` (n,); ``.csv`` with one
row per sample, the target in the last column (a header line of non-numbers is
skipped).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from he_learn.errors import ParameterError

__all__ = ["load_party_data", "load_features", "save_party_data"]


def load_party_data(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` from ``path`` (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"this role's data file {path} does not exist")
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                if "X" not in archive or "y" not in archive:
                    raise ParameterError(f"{path} must hold arrays 'X' and 'y', found {sorted(archive.files)}")
                X, y = np.asarray(archive["X"]), np.asarray(archive["y"])
        except (OSError, ValueError) as exc:
            raise ParameterError(f"cannot read {path} as .npz: {exc}") from None
    elif path.suffix == ".csv":
        try:
            table = np.genfromtxt(path, delimiter=",", dtype=np.float64)
        except ValueError as exc:
            raise ParameterError(f"cannot read {path} as CSV: {exc}") from None
        table = np.atleast_2d(table)
        if table.size and np.all(np.isnan(table[0])):
            table = table[1:]  # a header line
        if table.ndim != 2 or table.shape[1] < 2:
            raise ParameterError(f"{path} needs at least one feature column and the target column")
        X, y = table[:, :-1], table[:, -1]
    else:
        raise ParameterError(f"data files are .npz (arrays X, y) or .csv (target last), not {path.suffix!r}")
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
        raise ParameterError(f"{path}: X must be (n, d) and y (n,), found {X.shape} and {y.shape}")
    return X, y


def load_features(path: str | Path) -> np.ndarray:
    """``X`` (n, d) alone, for inference: the ``X`` array of a ``.npz`` file, or
    every column of a ``.csv`` (a header line of non-numbers is skipped)."""
    path = Path(path)
    if path.suffix == ".npz":
        if not path.is_file():
            raise ParameterError(f"this role's data file {path} does not exist")
        try:
            with np.load(path, allow_pickle=False) as archive:
                if "X" not in archive:
                    raise ParameterError(f"{path} must hold an array 'X', found {sorted(archive.files)}")
                X = np.asarray(archive["X"])
        except (OSError, ValueError) as exc:
            raise ParameterError(f"cannot read {path} as .npz: {exc}") from None
    elif path.suffix == ".csv":
        if not path.is_file():
            raise ParameterError(f"this role's data file {path} does not exist")
        try:
            X = np.atleast_2d(np.genfromtxt(path, delimiter=",", dtype=np.float64))
        except ValueError as exc:
            raise ParameterError(f"cannot read {path} as CSV: {exc}") from None
        if X.size and np.all(np.isnan(X[0])):
            X = X[1:]
    else:
        raise ParameterError(f"feature files are .npz (array X) or .csv, not {path.suffix!r}")
    if X.ndim != 2 or not X.size:
        raise ParameterError(f"{path}: X must be a non-empty (n, d) matrix, found shape {X.shape}")
    return X


def save_party_data(path: str | Path, X: np.ndarray, y: np.ndarray) -> Path:
    """Write ``X`` and ``y`` for a role (``.npz``)."""
    path = Path(path)
    np.savez(path, X=np.asarray(X), y=np.asarray(y))
    return path
