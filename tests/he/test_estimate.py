"""he_learn.he.estimate against real runs: the operations, refreshes, ciphertexts and
bytes it predicts are what the trainer counts; its memory grows like the data."""

from __future__ import annotations

import numpy as np
import pytest

from he_learn.approximations import TENSEAL_TUTORIAL_SIGMOID3, sigmoid_least_squares
from he_learn.errors import ParameterError, PrecisionError
from he_learn.he.estimate import estimate_training
from he_learn.he.training import EncryptedTrainingSpec, train_encrypted

OPERATIONS = ("rotations", "multiplications", "plain_multiplications")

CASES = {
    # 2 blocks of X sharing one pack of range flags (the second block's flag rotates)
    "logistic-cubic": (600, 6, "logistic", TENSEAL_TUTORIAL_SIGMOID3, None, 1),
    # degree 5 in 'training': a split step, weights and scores refreshed
    "logistic-split": (40, 4, "logistic", sigmoid_least_squares(5), "training", 1),
    "squared": (600, 5, "squared", None, None, 1),
    # one-vs-rest: 3 outputs on the same 2 blocks; and a split step's scores of 2 outputs
    "logistic-cubic-ovr": (600, 6, "logistic", TENSEAL_TUTORIAL_SIGMOID3, None, 3),
    "logistic-split-ovr": (40, 4, "logistic", sigmoid_least_squares(5), "training", 2),
}


def _run(n, d, objective, approximation, preset, outputs, max_iter):
    rng = np.random.default_rng(n + d)  # public test data
    X = rng.normal(size=(n, d)) / np.sqrt(d)
    y = (X @ rng.normal(size=(d, outputs)) > 0).astype(float)
    spec = EncryptedTrainingSpec(objective, max_iter, 0.5, "mean", approximation=approximation, log_every=0,
                                 outputs=outputs)
    return train_encrypted(X, y if outputs > 1 else y[:, 0], spec, preset=preset)[1]


@pytest.fixture(scope="module", params=sorted(CASES))
def measured(request):
    """One steady iteration of a real run: the counts of 3 iterations minus those of 2
    (the setup, the first step's missing refresh and the hand-over cancel)."""
    n, d, objective, approximation, preset, outputs = CASES[request.param]
    two, three = (_run(n, d, objective, approximation, preset, outputs, t) for t in (2, 3))
    step = {key: three[key] - two[key] for key in (*OPERATIONS, "refreshes", "refresh_bytes")}
    return estimate_training(n, d, objective, approximation, preset, outputs=outputs), step, three


def test_operation_counts_are_the_trainers(measured):
    estimate, step, _ = measured
    assert estimate.operations_per_iteration == {key: step[key] for key in OPERATIONS}


def test_refreshes_and_ciphertexts_are_the_runs(measured):
    estimate, step, report = measured
    assert estimate.refreshes_per_iteration == step["refreshes"]
    assert estimate.ciphertexts == report["ciphertexts_per_matrix"]
    assert estimate.preset == report["preset"]


def test_bytes_per_refresh_within_ten_percent(measured):
    estimate, step, _ = measured
    per_refresh = step["refresh_bytes"]  # one step's refresh round(s): what the estimate prices
    assert abs(estimate.bytes_per_refresh - per_refresh) <= 0.10 * per_refresh


def test_memory_grows_linearly_in_n():
    # whole packs of range flags (32 blocks of 128 samples at d=32), so every term is exact
    pack = 4096
    sizes = [pack * k for k in (1, 2, 3, 10, 25)]
    found = [estimate_training(n, 32, "logistic", TENSEAL_TUTORIAL_SIGMOID3) for n in sizes]
    per_pack = found[1].trainer_bytes - found[0].trainer_bytes
    assert per_pack > 0
    for n, estimate in zip(sizes, found):
        assert estimate.trainer_bytes == found[0].trainer_bytes + (n // pack - 1) * per_pack
        assert estimate.encrypted_bytes == n // pack * found[0].encrypted_bytes
    # what the trainer keeps per ciphertext of X: the block and its backward copy, under 2x
    assert found[-1].trainer_bytes < 2 * found[-1].encrypted_bytes
    assert estimate_training(10**5, 32, "logistic", TENSEAL_TUTORIAL_SIGMOID3).trainer_bytes < \
        4 * estimate_training(10**5, 32, "logistic", TENSEAL_TUTORIAL_SIGMOID3).encrypted_bytes


def test_workers_share_the_blocks_and_each_holds_the_keys():
    one = estimate_training(20_000, 16, "logistic", TENSEAL_TUTORIAL_SIGMOID3, workers=1)
    two = estimate_training(20_000, 16, "logistic", TENSEAL_TUTORIAL_SIGMOID3, workers=2)
    assert one.operations_per_iteration == two.operations_per_iteration
    assert one.seconds_per_iteration / 2 < two.seconds_per_iteration < 0.6 * one.seconds_per_iteration
    assert two.trainer_bytes > one.trainer_bytes  # two more processes with the Galois keys
    # more workers than blocks: one block each, no faster
    few = [estimate_training(100, 4, "squared", workers=w).seconds_per_iteration for w in (1, 8)]
    assert few[0] == few[1]


@pytest.mark.parametrize("args, error", [
    ((100, 4, "hinge"), ParameterError),
    ((0, 4, "squared"), ParameterError),
    ((100, -1, "squared"), ParameterError),
    ((100.5, 4, "squared"), ParameterError),
    ((True, 4, "squared"), ParameterError),
    ((100, 4, "logistic"), ParameterError),  # no polynomial
    ((100, 4, "squared", None, "no-such-preset"), ParameterError),
    ((100, 4, "squared", None, None, 0), ParameterError),
    # degree 7 needs 3 + 2 levels after a refresh; 'training-linear' has 3
    ((100, 4, "logistic", sigmoid_least_squares(7), "training-linear"), PrecisionError),
])
def test_bad_inputs_raise(args, error):
    with pytest.raises(error):
        estimate_training(*args)
