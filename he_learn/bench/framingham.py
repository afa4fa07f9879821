"""The Framingham heart-study data, preprocessed exactly as TenSEAL's Tutorial 1.

The tutorial ("Training and Evaluation of Logistic Regression on Encrypted
Data", OpenMined/TenSEAL ``tutorials/Tutorial 1``) is the published table that
he_learn's CKKS training is held against, so its preprocessing is reproduced
step for step, in numpy (no pandas):

1. drop every row that has a missing value (``NA``) in ANY column, *then* drop
   the columns education, currentSmoker, BPMeds, diabetes, diaBP and BMI (the
   order matters: dropping rows first is what leaves 557 positive rows);
2. balance the classes: each class is down-sampled to the minority's size with
   ``RandomState(seed).choice(n_class, size, replace=False)``, which is what
   ``DataFrame.sample(size, random_state=seed)`` does, class 0 first;
3. standardise every feature over the balanced set, ``(x - mean) / std`` with
   the sample standard deviation (ddof=1, pandas' default);
4. shuffle the row indices with ``random.Random(seed).shuffle`` and put the first
   ``int(0.3 * n)`` rows in the test set, the rest in the training set.

With ``seed=73`` (the tutorial's ``random_state`` and ``random.seed``) this is
the tutorial's own split; any seed gives 780 x 9 for training and 334 x 9 for
testing. The data is public, so seeded non-cryptographic generators are fine.

The file is read in place from ``../shared/data/framingham.csv`` relative to the
project root (it is not redistributed with he_learn); see
:func:`default_framingham_path`.
"""

from __future__ import annotations

import csv
import os
import random
from pathlib import Path

import numpy as np

from he_learn.errors import ParameterError

__all__ = [
    "load_framingham",
    "default_framingham_path",
    "framingham_candidates",
    "DROPPED_COLUMNS",
    "LABEL_COLUMN",
    "FEATURE_COLUMNS",
    "TUTORIAL_SEED",
    "TEST_RATIO",
]

# Tutorial 1's preprocessing constants (see the module docstring).
DROPPED_COLUMNS = ("education", "currentSmoker", "BPMeds", "diabetes", "diaBP", "BMI")
LABEL_COLUMN = "TenYearCHD"
FEATURE_COLUMNS = (
    "male", "age", "cigsPerDay", "prevalentStroke", "prevalentHyp",
    "totChol", "sysBP", "heartRate", "glucose",
)
TUTORIAL_SEED = 73
TEST_RATIO = 0.3
_MISSING = "NA"

# Where the shared data lives, relative to the project root (data/README.md).
_RELATIVE_PATH = Path("..") / "shared" / "data" / "framingham.csv"
# Project root = the directory that holds the ``he_learn`` package.
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def framingham_candidates() -> tuple[Path, ...]:
    """The places searched when no path is given: relative to the current
    directory first (run from the project root), then to the package location."""
    return (Path.cwd() / _RELATIVE_PATH, _PACKAGE_ROOT / _RELATIVE_PATH)


def default_framingham_path() -> Path:
    """The first existing default location; raises ``FileNotFoundError`` naming
    every location tried when none exists."""
    candidates = framingham_candidates()
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    tried = ", ".join(str(c.resolve()) for c in candidates)
    raise FileNotFoundError(
        f"framingham.csv not found (tried {tried}); pass its path explicitly "
        "(e.g. --framingham PATH). It is TenSEAL's tutorials/data/framingham.csv."
    )


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise ParameterError(f"{path} is empty; expected the Framingham CSV") from None
        rows = [row for row in reader if row]
    missing = [c for c in (*FEATURE_COLUMNS, *DROPPED_COLUMNS, LABEL_COLUMN) if c not in header]
    if missing:
        raise ParameterError(f"{path} lacks the Framingham column(s) {missing}; header is {header}")
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise ParameterError(f"{path}:{line} has {len(row)} fields, the header has {len(header)}")
    return header, rows


def load_framingham(
    path: str | os.PathLike[str] | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load and preprocess Framingham as TenSEAL Tutorial 1 does.

    Returns ``(X_train, y_train, X_test, y_test)`` as float64 arrays: X of shape
    (780, 9) and (334, 9), y of 0/1 labels. ``seed=73`` reproduces the tutorial's
    own split. Raises ``FileNotFoundError`` naming the path when the file is absent.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed must be a non-negative integer, not {seed!r}")
    csv_path = default_framingham_path() if path is None else Path(path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"framingham.csv not found at {csv_path.resolve()}")
    header, rows = _read_rows(csv_path)

    # Step 1: rows with any missing value go before the columns are dropped.
    complete = [row for row in rows if _MISSING not in row and "" not in row]
    try:
        table = np.array(complete, dtype=np.float64)
    except ValueError as exc:
        raise ParameterError(f"{csv_path} holds a non-numeric value: {exc}") from None
    features = table[:, [header.index(c) for c in FEATURE_COLUMNS]]
    labels = table[:, header.index(LABEL_COLUMN)]
    if not np.all((labels == 0) | (labels == 1)):
        raise ParameterError(f"{csv_path}: {LABEL_COLUMN} must be 0 or 1")

    # Step 2: DataFrame.groupby(label).apply(sample(min_size, random_state=seed)).
    classes = [np.flatnonzero(labels == value) for value in (0.0, 1.0)]
    size = min(len(members) for members in classes)
    if size == 0:
        raise ParameterError(f"{csv_path}: one class has no complete rows")
    picked = np.concatenate(
        [members[np.random.RandomState(seed).choice(len(members), size, replace=False)] for members in classes]
    )
    X = features[picked]
    y = labels[picked]

    # Step 3: standardise over the balanced set, ddof=1 as pandas does.
    std = X.std(axis=0, ddof=1)
    if np.any(std == 0):
        raise ParameterError(f"{csv_path}: a feature is constant after balancing")
    X = (X - X.mean(axis=0)) / std

    # Step 4: the tutorial's split_train_test(test_ratio=0.3).
    order = list(range(len(X)))
    random.Random(seed).shuffle(order)
    delim = int(len(X) * TEST_RATIO)
    test_idx, train_idx = np.array(order[:delim]), np.array(order[delim:])
    return X[train_idx], y[train_idx], X[test_idx], y[test_idx]
