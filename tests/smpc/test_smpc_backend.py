"""The smpc training backend: the XOR reservoir demo and logistic regression on shares.

Every training test runs in-process (the backend's own adapter, ``SmpcBackend.train``)
and with one thread per party running ``train_on_shares`` (the ``mpc`` fixture);
under one insecure seed both give the same weights and reports, bit for bit.
Estimator, prediction and option-validation tests go through the in-process
adapter only; each says so.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from he_learn.approximations import hard_sigmoid, resolve_sigmoid
from he_learn.errors import ParameterError, PrecisionError
from he_learn.models.backend import REPORT_KEYS, Backend, TrainingConfig, TrainingProblem, TrainingResult
from he_learn.models.reservoir import ReservoirFeatures
from he_learn.models.smpc_backend import DEFAULT_RANGE_CHECK_EVERY, TRAINING_LABEL, make_backend
from he_learn.models.smpc_training import train_on_shares
from he_learn.smpc import Session, party_names
from he_learn.smpc.comparison import any_outside_cost
from he_learn.smpc.dealer import SEED_BYTES

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0.0, 1.0, 1.0, 0.0])
XOR_CONFIG = TrainingConfig(max_iter=250, learning_rate=1e-3, gradient="sum", log_every=50)


def _plain_loop(X: np.ndarray, y: np.ndarray, config: TrainingConfig, activate=None) -> tuple[np.ndarray, list[float]]:
    """The shared algorithm in float64 (models/backend.py's docstring), the reference."""
    w = np.zeros(X.shape[1])
    losses = []
    for step in range(config.max_iter):
        z = X @ w
        r = (z if activate is None else activate(z)) - y
        if config.log_every and step % config.log_every == 0:
            losses.append(float(np.abs(r).sum()))
        g = X.T @ r
        if config.gradient == "mean":
            g = g / len(y)
        w = w - config.learning_rate * (g + config.l2 * w)
    return w, losses


# Report figures that every party's report gives alike, and those that add up over parties.
_SAME_EVERYWHERE = ("rounds", "refreshes", "loss_history", "loss_steps", "n_iter", "range_checks", "range_check_bound",
                    "range_check_rounds", "n_parties", "parties", "n_samples", "n_features", "fractional_bits",
                    "truncation")
_ADDED_UP = ("bytes_sent", "share_bytes", "mask_bytes", "bytes_per_iter", "logging_bytes", "range_check_bytes")
# Filled from the dealer's ledger in a multi-process job, not from a party's (see _train).
_DEALER_FIGURES = ("dealer_bytes", "dealer_bytes_per_iter", "range_check_dealer_bytes")


def _train(mpc, problem: TrainingProblem, config: TrainingConfig, on_iteration=None, **options) -> TrainingResult:
    """Train with ``make_backend(**options)``: its in-process adapter, or one thread per party.

    In threads mode the result is the job's: the model owner's weights, the figures
    every party reports alike, and the others summed over the parties. Under an
    insecure seed it must equal the in-process adapter's result bit for bit.
    """
    backend = make_backend(**options)
    if not mpc.threads:
        return backend.train(problem, config, on_iteration)
    opts = backend.options
    data_owner, model_owner = party_names(opts.n_parties)[:2]

    def fn(s: Session) -> TrainingResult:
        mine = s.runs(data_owner)
        return train_on_shares(s, config, problem.objective, problem.X if mine else None, problem.y if mine else None,
                               range_check_every=int(opts.range_check_every), on_iteration=on_iteration)

    out = mpc.run(fn, opts.n_parties, encoder=opts.encoder(), truncation=opts.truncation, label=TRAINING_LABEL,
                  insecure_seed=opts.insecure_seed)
    reports = [r.report for r in out]
    for name, result in zip(party_names(opts.n_parties), out):
        assert (result.weights is None) == (name != model_owner), "only the model owner gets the weights"
        assert result.report["local_parties"] == [name]
    report = {key: reports[0][key] for key in _SAME_EVERYWHERE}
    for key in _SAME_EVERYWHERE:
        for other in reports[1:]:
            mpc.assert_identical(report[key], other[key], key)
    report.update({key: sum(r[key] for r in reports) for key in _ADDED_UP})
    report["seconds"] = max(r["seconds"] for r in reports)
    report["seconds_per_iter"] = max(r["seconds_per_iter"] for r in reports)
    (weights,) = [r.weights for r in out if r.weights is not None]
    if opts.insecure_seed is not None:
        reference = backend.train(problem, config)
        mpc.assert_identical(reference.weights, weights, "weights")
        for key in (*_SAME_EVERYWHERE, *_ADDED_UP):
            mpc.assert_identical(reference.report[key], report[key], key)
        # A party's report counts what it sent; the dealer's replies are in the dealer's
        # ledger: the setup's seeds plus what the in-process report counts for training.
        assert out.ledgers["dealer"].dealer_bytes == reference.report["dealer_bytes"] + opts.n_parties * SEED_BYTES
        report.update({key: reference.report[key] for key in _DEALER_FIGURES})
    return TrainingResult(weights=weights, report=report)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_xor_reservoir_on_shares(mpc, seed: int) -> None:
    features = ReservoirFeatures(256, random_state=seed).fit_transform(XOR_X)
    backend = make_backend(insecure_seed=b"xor-test")
    assert isinstance(backend, Backend) and backend.name == "smpc"
    result = _train(mpc, TrainingProblem(features, XOR_Y, "squared"), XOR_CONFIG, insecure_seed=b"xor-test")
    losses = result.report["loss_history"]
    assert result.report["loss_steps"] == [0, 50, 100, 150, 200]
    assert f"{losses[0]:.3f}" == "2.000"
    assert all(later < earlier for earlier, later in zip(losses, losses[1:]))
    predictions = features @ result.weights
    assert ((predictions > 0.5) == (XOR_Y > 0.5)).all()
    reference, reference_losses = _plain_loop(features, XOR_Y, XOR_CONFIG)
    assert np.max(np.abs(result.weights - reference)) < 1e-3
    assert np.allclose(losses, reference_losses, atol=5e-3)


def test_report_carries_the_ledger(mpc) -> None:
    features = ReservoirFeatures(256, random_state=0).fit_transform(XOR_X)
    config = TrainingConfig(max_iter=5, learning_rate=1e-3, log_every=0)
    report = _train(mpc, TrainingProblem(features, XOR_Y, "squared"), config, insecure_seed=b"r").report
    for key in (*REPORT_KEYS, "dealer_bytes", "bytes_per_iter", "n_parties", "share_bytes"):
        assert key in report
    assert report["refreshes"] == 0 and report["n_parties"] == 2
    assert report["share_bytes"] == (4 * 256 + 4 + 256) * 8  # X and y to bob, zero w to alice
    # Per iteration: open F (256) and G (4) plus truncations of z (4), g (256) and lr*g (256).
    assert report["bytes_per_iter"] == 2 * (256 + 4 + 4 + 256 + 256) * 8
    # The one range check (at the last of 5 steps): 2 * 4 + 1 comparisons and the opened bit.
    assert report["range_checks"] == 1
    bound = 2.0**29  # half the fixed-point range for the squared objective
    assert report["range_check_bound"] == bound
    assert report["range_check_bytes"] == any_outside_cost(4, 2, bound)["bytes"] + 2 * 8
    assert report["bytes_sent"] == (
        report["share_bytes"] + report["mask_bytes"] + 5 * report["bytes_per_iter"] + 256 * 8
        + report["range_check_bytes"]
    )


def test_three_parties_give_the_same_model(mpc) -> None:
    features = ReservoirFeatures(256, random_state=3).fit_transform(XOR_X)
    problem = TrainingProblem(features, XOR_Y, "squared")
    two = _train(mpc, problem, XOR_CONFIG, insecure_seed=b"n")
    three = _train(mpc, problem, XOR_CONFIG, n_parties=3, insecure_seed=b"n")
    assert three.report["n_parties"] == 3
    assert three.report["bytes_per_iter"] == 3 * two.report["bytes_per_iter"]
    assert np.max(np.abs(two.weights - three.weights)) < 1e-3


def test_seed_makes_runs_reproducible(mpc) -> None:
    features = ReservoirFeatures(256, random_state=0).fit_transform(XOR_X)
    problem = TrainingProblem(features, XOR_Y, "squared")
    config = TrainingConfig(max_iter=20, learning_rate=1e-3)
    a = _train(mpc, problem, config, insecure_seed=b"same")
    b = _train(mpc, problem, config, insecure_seed=b"same")
    assert np.array_equal(a.weights, b.weights)
    # Without a seed the shares differ from run to run; the model hardly does.
    fresh = _train(mpc, problem, config)
    assert np.max(np.abs(fresh.weights - a.weights)) < 1e-3


def test_progress_callback(mpc) -> None:
    calls: dict[str, list] = {}
    features = ReservoirFeatures(16, random_state=0).fit_transform(XOR_X)

    def progress(done: int, total: int) -> None:
        # One process per party in threads mode: each reports its own progress.
        calls.setdefault(threading.current_thread().name, []).append((done, total))

    _train(mpc, TrainingProblem(features, XOR_Y, "squared"), TrainingConfig(max_iter=3, learning_rate=1e-3),
           on_iteration=progress, insecure_seed=b"p")
    assert len(calls) == (2 if mpc.threads else 1)
    for seen in calls.values():
        assert seen == [(1, 3), (2, 3), (3, 3)]


@pytest.fixture(scope="module")
def breast_cancer() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    scaler = StandardScaler().fit(X_train)
    add_one = lambda a: np.hstack([a, np.ones((len(a), 1))])  # noqa: E731 (intercept column)
    return add_one(scaler.transform(X_train)), y_train.astype(float), add_one(scaler.transform(X_test)), y_test


@pytest.mark.parametrize("sigmoid", ["poly5", "piecewise"])
def test_logistic_regression_matches_plaintext(mpc, breast_cancer, sigmoid: str) -> None:
    X_train, y_train, X_test, y_test = breast_cancer
    choice = resolve_sigmoid(sigmoid)
    config = TrainingConfig(max_iter=30, learning_rate=0.5, gradient="mean", sigmoid=choice)
    result = _train(mpc, TrainingProblem(X_train, y_train, "logistic"), config, insecure_seed=b"bc")
    reference, _ = _plain_loop(X_train, y_train, config, hard_sigmoid if choice == "piecewise" else choice)
    accuracy = np.mean((X_test @ result.weights > 0) == y_test)
    plain_accuracy = np.mean((X_test @ reference > 0) == y_test)
    assert plain_accuracy > 0.9
    assert abs(accuracy - plain_accuracy) <= 0.01


def test_estimator_path() -> None:
    # The estimator runs the in-process adapter: in-process only.
    linear = pytest.importorskip("he_learn.models.linear")
    features = ReservoirFeatures(256, random_state=5).fit_transform(XOR_X)
    model = linear.LinearRegression(
        backend="smpc", max_iter=250, learning_rate=1e-3, fit_intercept=False, log_every=50, progress=False,
        backend_options={"insecure_seed": b"estimator"},
    ).fit(features, XOR_Y)
    assert f"{model.training_report_['loss_history'][0]:.3f}" == "2.000"
    assert ((model.predict(features) > 0.5) == (XOR_Y > 0.5)).all()
    assert model.training_report_["bytes_sent"] > 0


def test_exact_sigmoid_and_bad_options_are_refused() -> None:
    # Validation before any session exists: in-process only.
    problem = TrainingProblem(np.ones((2, 2)), np.array([0.0, 1.0]), "logistic")
    with pytest.raises(ParameterError, match="exact sigmoid"):
        make_backend().train(problem, TrainingConfig(max_iter=1, learning_rate=1.0, sigmoid="exact"))
    for bad in ({"n_parties": 1}, {"truncation": "magic"}, {"seed": 5}, {"insecure_seed": "text"}, {"fractional_bits": 40}, {"colour": "red"}):
        with pytest.raises(ParameterError):
            make_backend(**bad)


def test_divergence_is_reported_not_returned(mpc) -> None:
    features = ReservoirFeatures(256, random_state=0).fit_transform(XOR_X)
    with pytest.raises(PrecisionError, match="fixed-point range"):
        _train(mpc, TrainingProblem(features, XOR_Y, "squared"), TrainingConfig(max_iter=60, learning_rate=0.5),
               insecure_seed=b"d")


def test_predict_on_shares() -> None:
    # SmpcBackend.predict runs its sessions in this process: in-process only.
    features = ReservoirFeatures(256, random_state=0).fit_transform(XOR_X)
    backend = make_backend(insecure_seed=b"predict")
    weights = backend.train(TrainingProblem(features, XOR_Y, "squared"), XOR_CONFIG).weights
    labels = backend.predict(features, weights, threshold=0.5)
    assert labels.dtype == np.int64
    assert labels.tolist() == [0, 1, 1, 0]
    with pytest.raises(ParameterError):
        backend.predict(features, weights[:-1])


def test_logistic_estimator_within_one_point_of_plain(breast_cancer) -> None:
    # The estimator runs the in-process adapter: in-process only.
    linear = pytest.importorskip("he_learn.models.linear")
    X_train, y_train, X_test, y_test = (a[:, :-1] if a.ndim == 2 else a for a in breast_cancer)
    scores = {}
    for backend, options in (("plain", None), ("smpc", {"insecure_seed": b"estimator-logreg"})):
        model = linear.LogisticRegression(backend=backend, progress=False, backend_options=options)
        scores[backend] = model.fit(X_train, y_train).score(X_test, y_test)
    assert scores["plain"] > 0.9
    assert abs(scores["smpc"] - scores["plain"]) <= 0.01


def test_range_check_turns_a_divergent_run_into_precision_error_with_default_settings() -> None:
    # The review's case: scores far outside poly5's interval grow the weights to ~1e8
    # without any sign when only the final weights are checked. The estimator runs
    # the in-process adapter; the next test runs the same check in every mode.
    from he_learn import LogisticRegression

    rng = np.random.default_rng(0)  # public test data
    X = rng.normal(size=(20, 3))
    y = (X[:, 0] > 0).astype(float)
    with pytest.raises(PrecisionError, match="secure range check found a score"):
        LogisticRegression(backend="smpc", max_iter=5, learning_rate=1.0, progress=False).fit(X * 50, y)


def test_range_check_stops_a_divergent_run_in_every_mode(mpc) -> None:
    rng = np.random.default_rng(0)  # public test data
    X = rng.normal(size=(20, 3))
    y = (X[:, 0] > 0).astype(float)
    problem = TrainingProblem(np.hstack([X * 50, np.ones((20, 1))]), y, "logistic")
    config = TrainingConfig(max_iter=5, learning_rate=1.0, gradient="mean", sigmoid=resolve_sigmoid("poly5"))
    with pytest.raises(PrecisionError, match="secure range check found a score"):
        _train(mpc, problem, config, insecure_seed=b"diverge")


def test_range_check_cadence_and_cost_are_reported(mpc) -> None:
    rng = np.random.default_rng(1)  # public test data
    X = rng.normal(size=(30, 3))
    y = (X[:, 1] > 0).astype(float)
    problem = TrainingProblem(X, y, "logistic")
    config = TrainingConfig(max_iter=25, learning_rate=0.5, gradient="mean", sigmoid=resolve_sigmoid("poly5"))
    report = _train(mpc, problem, config, insecure_seed=b"cadence").report
    # Steps 10, 20 and the last one (25) with the default cadence of 10.
    assert DEFAULT_RANGE_CHECK_EVERY == 10 and report["range_checks"] == 3
    assert report["range_check_bytes"] == 3 * (any_outside_cost(30, 2, 32.0)["bytes"] + 2 * 8)
    assert report["range_check_rounds"] == 3 * (any_outside_cost(30, 2, 32.0)["rounds"] + 1)
    assert report["range_check_bound"] == 32.0  # 4 x poly5's reach of 8, as the plain backend
    off = _train(mpc, problem, config, insecure_seed=b"cadence", range_check_every=0).report
    assert off["range_checks"] == 0 and off["range_check_bytes"] == 0
    assert off["bytes_sent"] == report["bytes_sent"] - report["range_check_bytes"]


@pytest.mark.parametrize("bad", [-1, 1.5, True, "10"])
def test_range_check_every_is_validated(bad: object) -> None:
    # Option validation: in-process only.
    with pytest.raises(ParameterError, match="range_check_every"):
        make_backend(range_check_every=bad)


def test_fractional_bits_limit_follows_from_the_product_rule() -> None:
    # Option validation: in-process only.
    # 2f + i <= 62 with at least one integer bit: f <= 30.
    assert make_backend(fractional_bits=30).options.encoder().supports_products
    for bad in (0, 31):
        with pytest.raises(ParameterError, match="2 \\* fractional_bits \\+ integer_bits <= 62"):
            make_backend(fractional_bits=bad)
