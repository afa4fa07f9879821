"""The Framingham loader reproduces TenSEAL Tutorial 1's preprocessing."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from he_learn.bench.framingham import (
    DROPPED_COLUMNS,
    FEATURE_COLUMNS,
    LABEL_COLUMN,
    default_framingham_path,
    framingham_candidates,
    load_framingham,
)
from he_learn.errors import ParameterError


def _shared_csv() -> Path | None:
    try:
        return default_framingham_path()
    except FileNotFoundError:
        return None


needs_data = pytest.mark.skipif(_shared_csv() is None, reason="../shared/data/framingham.csv is absent")

HEADER = ["male", "age", "education", "currentSmoker", "cigsPerDay", "BPMeds", "prevalentStroke", "prevalentHyp",
          "diabetes", "totChol", "sysBP", "diaBP", "BMI", "heartRate", "glucose", "TenYearCHD"]


def _write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _row(rng: np.random.Generator, label: int, missing: str | None = None) -> list[str]:
    values = [str(int(v)) for v in rng.integers(0, 300, size=len(HEADER) - 1)] + [str(label)]
    if missing is not None:
        values[HEADER.index(missing)] = "NA"
    return values


@needs_data
def test_tutorial_shapes_balance_and_standardisation() -> None:
    X_train, y_train, X_test, y_test = load_framingham()
    assert X_train.shape == (780, len(FEATURE_COLUMNS))
    assert X_test.shape == (334, len(FEATURE_COLUMNS))
    assert y_train.shape == (780,) and y_test.shape == (334,)
    y = np.concatenate([y_train, y_test])
    assert set(np.unique(y)) == {0.0, 1.0}
    assert y.sum() == len(y) / 2  # balanced by down-sampling
    X = np.vstack([X_train, X_test])
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(X.std(axis=0, ddof=1), 1.0, rtol=1e-12)


@needs_data
def test_seed_reproduces_and_varies_the_split() -> None:
    first = load_framingham(seed=5)
    again = load_framingham(seed=5)
    other = load_framingham(seed=6)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


@needs_data
def test_default_path_found_from_another_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert default_framingham_path().is_file()


def test_rows_with_missing_values_in_dropped_columns_are_dropped_too(tmp_path) -> None:
    # Tutorial 1 calls dropna() BEFORE dropping columns: a row whose only NA is in
    # a dropped column must still disappear.
    rng = np.random.default_rng(0)
    rows = [_row(rng, label) for label in [0] * 12 + [1] * 8]
    rows += [_row(rng, 1, missing=column) for column in DROPPED_COLUMNS]
    rows += [_row(rng, 0, missing="glucose")]
    path = _write_csv(tmp_path / "small.csv", rows)
    X_train, y_train, X_test, y_test = load_framingham(path, seed=1)
    y = np.concatenate([y_train, y_test])
    # 8 complete positives, so 8 of each class survive balancing.
    assert len(y) == 16 and y.sum() == 8
    assert len(X_test) == int(16 * 0.3)


def test_missing_file_names_the_path(tmp_path) -> None:
    missing = tmp_path / "nowhere" / "framingham.csv"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_framingham(missing)


def test_default_candidates_are_named_when_absent(tmp_path, monkeypatch) -> None:
    import he_learn.bench.framingham as module

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(module, "_PACKAGE_ROOT", tmp_path / "pkg")
    with pytest.raises(FileNotFoundError, match="framingham.csv not found") as info:
        default_framingham_path()
    for candidate in framingham_candidates():
        assert str(candidate.resolve()) in str(info.value)


def test_malformed_files_raise_parameter_errors(tmp_path) -> None:
    rng = np.random.default_rng(1)
    no_label = _write_csv(tmp_path / "a.csv", [_row(rng, 0)[:-1]], header=HEADER[:-1])
    with pytest.raises(ParameterError, match=LABEL_COLUMN):
        load_framingham(no_label)
    ragged = _write_csv(tmp_path / "b.csv", [_row(rng, 0)[:-2]])
    with pytest.raises(ParameterError, match="fields"):
        load_framingham(ragged)
    words = _write_csv(tmp_path / "c.csv", [["x"] * len(HEADER)])
    with pytest.raises(ParameterError, match="non-numeric"):
        load_framingham(words)
    with pytest.raises(ParameterError, match="seed"):
        load_framingham(words, seed=-1)
