"""Encrypted training against the shared plaintext algorithm (he_learn.models.backend)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from he_learn.approximations import TENSEAL_TUTORIAL_SIGMOID3, sigmoid_least_squares
from he_learn.errors import ParameterError, PrecisionError
from he_learn.he.training import EncryptedTrainingSpec, train_encrypted
from he_learn.models.backend import REPORT_KEYS, TrainingConfig, TrainingProblem
from he_learn.models.ckks_backend import make_backend


def plain_run(X, y, spec):
    """The documented algorithm in float64, with the same polynomial."""
    w = np.zeros(X.shape[1])
    losses = []
    for t in range(spec.max_iter):
        z = X @ w
        r = (spec.approximation(z) if spec.objective == "logistic" else z) - y
        if spec.log_every and t % spec.log_every == 0:
            losses.append(np.abs(r).sum())
        g = X.T @ r / (len(y) if spec.gradient == "mean" else 1)
        w = w - spec.learning_rate * (g + spec.l2 * w)
    return w, losses


def data(n, d, seed, binary=False):
    rng = np.random.default_rng(seed)  # public test data
    X = rng.normal(size=(n, d)) / np.sqrt(d)
    y = (X @ rng.normal(size=d) > 0).astype(float) if binary else X @ rng.normal(size=d)
    return X, y


def test_linear_matches_plain(linear_holder):
    X, y = data(12, 5, 0)
    spec = EncryptedTrainingSpec("squared", 6, 0.3, "sum", log_every=2)
    w, report = train_encrypted(X, y, spec)
    expected, losses = plain_run(X, y, spec)
    np.testing.assert_allclose(w, expected, atol=1e-3)
    np.testing.assert_allclose(report["loss_history"], losses, atol=1e-3)
    assert report["loss_steps"] == [0, 2, 4]
    assert set(REPORT_KEYS) <= set(report)
    for key in ("rotations", "multiplications", "refresh_bytes", "setup_bytes", "public_context_bytes", "ciphertext_bytes"):
        assert report[key] > 0
    assert report["refreshes"] == 5  # 'training-linear' fits one 3-level step per refresh


@pytest.mark.parametrize("approx", [TENSEAL_TUTORIAL_SIGMOID3, sigmoid_least_squares(5)], ids=lambda a: a.name)
def test_logistic_matches_plain(approx):
    X, y = data(40, 4, 2, binary=True)
    spec = EncryptedTrainingSpec("logistic", 3, 1.0, "mean", l2=0.05, approximation=approx, log_every=1)
    w, report = train_encrypted(X, y, spec)
    expected, losses = plain_run(X, y, spec)
    np.testing.assert_allclose(w, expected, atol=2e-3)
    np.testing.assert_allclose(report["loss_history"], losses, rtol=1e-3)
    # degree 5 needs 6 levels a step: its default preset, 'training-deep', has them
    assert report["refreshes"] == 2
    assert report["preset"] == ("training" if approx.degree == 3 else "training-deep")


def test_a_step_longer_than_the_chain_refreshes_its_scores_too():
    X, y = data(40, 4, 2, binary=True)
    spec = EncryptedTrainingSpec("logistic", 3, 1.0, "mean", l2=0.05, approximation=sigmoid_least_squares(5))
    w, report = train_encrypted(X, y, spec, preset="training")
    np.testing.assert_allclose(w, plain_run(X, y, spec)[0], atol=2e-3)
    # 6 levels a step, 5 in 'training': the weights and then the scores, every step
    assert report["refreshes"] == 5


def test_activation_inputs_outside_the_interval_can_raise():
    X, y = data(16, 3, 4, binary=True)
    spec = EncryptedTrainingSpec(
        "logistic", 3, 1.0, "sum", approximation=TENSEAL_TUTORIAL_SIGMOID3, log_every=1, activation_policy="raise"
    )
    with pytest.raises(PrecisionError, match="interval"):
        train_encrypted(X * 40, y, spec)


def test_spec_validation():
    with pytest.raises(ParameterError, match="polynomial sigmoid"):
        EncryptedTrainingSpec("logistic", 3, 1.0)
    with pytest.raises(ParameterError):
        EncryptedTrainingSpec("squared", 0, 1.0)
    with pytest.raises(ParameterError, match="seed"):
        train_encrypted(np.ones((2, 2)), np.ones(2), EncryptedTrainingSpec("squared", 1, 0.1), insecure_mask_seed=b"short")
    with pytest.raises(PrecisionError, match="levels"):
        train_encrypted(
            np.ones((2, 2)), np.ones(2),
            EncryptedTrainingSpec("logistic", 1, 0.1, approximation=sigmoid_least_squares(7)), preset="inference",
        )


def test_backend_adapter_runs_the_contract():
    X, y = data(8, 3, 6)
    backend = make_backend()
    assert backend.name == "ckks"
    config = TrainingConfig(max_iter=3, learning_rate=0.2, log_every=1)
    result = backend.train(TrainingProblem(X, y, "squared"), config)
    expected, _ = plain_run(X, y, EncryptedTrainingSpec("squared", 3, 0.2, log_every=1))
    np.testing.assert_allclose(result.weights, expected, atol=1e-3)
    with pytest.raises(ParameterError, match="unknown ckks backend option"):
        make_backend(colour="blue")
    with pytest.raises(ParameterError, match="unknown ckks backend option"):
        make_backend(seed=7)  # the mask stream has no public seed any more
    with pytest.raises(ParameterError, match="polynomial sigmoid"):
        backend.train(TrainingProblem(X, (y > 0).astype(float), "logistic"), TrainingConfig(max_iter=1, learning_rate=1.0))


@pytest.mark.slow
def test_xor_reservoir_like_the_smpc_demo():
    inputs = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 1, 1, 0], dtype=float)
    rng = np.random.default_rng(0)  # public reservoir projection
    X = np.maximum(inputs @ rng.normal(size=(2, 256)), 0.0)
    spec = EncryptedTrainingSpec("squared", 250, 1e-3, "sum", log_every=50)
    start = time.perf_counter()
    w, report = train_encrypted(X, y, spec)
    seconds = time.perf_counter() - start
    expected, losses = plain_run(X, y, spec)
    assert report["loss_history"][0] == pytest.approx(2.0, abs=1e-3)
    assert all(a > b for a, b in zip(report["loss_history"], report["loss_history"][1:]))
    np.testing.assert_allclose(report["loss_history"], losses, atol=1e-2)
    assert np.array_equal((X @ w > 0.5).astype(int), y.astype(int))
    print(f"XOR: {seconds:.1f} s, losses {np.round(report['loss_history'], 3)}")


@pytest.mark.slow
def test_framingham_within_one_point_of_plain():
    from he_learn.bench.framingham import load_framingham

    try:
        X_train, y_train, X_test, y_test = load_framingham(seed=73)
    except FileNotFoundError as exc:
        pytest.skip(f"Framingham data absent: {exc}")
    add_bias = lambda X: np.hstack([X, np.ones((len(X), 1))])  # noqa: E731
    X_train, X_test = add_bias(X_train), add_bias(X_test)
    spec = EncryptedTrainingSpec("logistic", 5, 1.0, "mean", l2=0.05, approximation=TENSEAL_TUTORIAL_SIGMOID3)
    w, _ = train_encrypted(X_train, y_train, spec)
    expected, _ = plain_run(X_train, y_train, spec)
    accuracy = lambda w: np.mean((X_test @ w > 0) == (y_test > 0.5))  # noqa: E731
    assert abs(accuracy(w) - accuracy(expected)) <= 0.01


def test_economy_keys_compose_rotations_and_shrink_the_context():
    X, y = data(40, 6, 8)
    spec = EncryptedTrainingSpec("squared", 2, 0.1, "sum")
    w_all, full = train_encrypted(X, y, spec)
    w_eco, economy = train_encrypted(X, y, spec, economy_keys=True)
    np.testing.assert_allclose(w_eco, w_all, atol=1e-3)
    assert economy["public_context_bytes"] < 0.8 * full["public_context_bytes"]
    assert economy["rotations"] > full["rotations"]


def test_refresh_masks_never_come_from_random_state(monkeypatch):
    """Review finding: masks seeded from the public random_state let the key
    holder regenerate them and read the weights. Two fits with the same
    random_state must send different refresh messages."""
    from he_learn import LinearRegression
    from he_learn.he import envelope as envelope_module
    from he_learn.he.key_holder_service import TrainingKeyHolder

    seen = []
    original = TrainingKeyHolder._refresh

    def spy(self, request):
        masked = request.chunks[: request.fields["values"]]
        seen.append(([bytes(m) for m in masked], [self._key_holder.decrypt(envelope_module.load(self._engine, m)) for m in masked]))
        return original(self, request)

    monkeypatch.setattr(TrainingKeyHolder, "_refresh", spy)
    X, y = data(8, 3, 11)
    fits = []
    for _ in range(2):
        seen.clear()
        LinearRegression(backend="ckks", max_iter=2, learning_rate=0.05, random_state=0, progress=False).fit(X, y)
        fits.append(list(seen))
    assert fits[0] and len(fits[0]) == len(fits[1])
    (bytes_a, values_a), (bytes_b, values_b) = fits[0][0], fits[1][0]
    assert bytes_a != bytes_b
    # the key holder's view differs by the masks: spread ~ 2B / sqrt(6), far from 0
    assert np.std(values_a[0] - values_b[0]) > 1.0


def test_diverging_weights_raise_instead_of_wrapping():
    """Review finding: lr=10 on X*10 used to return ~1e8 weights silently."""
    from he_learn import LinearRegression

    X, y = data(20, 3, 0)
    with pytest.raises(PrecisionError, match="learning rate"):
        LinearRegression(backend="ckks", max_iter=30, learning_rate=10.0, progress=False).fit(X * 10, y)


def test_activation_range_is_checked_at_every_step_under_the_defaults():
    """Review finding: with log_every=0 (the default) out-of-interval scores went
    unseen. The range flags ride on the refreshes, so the default policy warns
    and 'raise' raises, with no loss logging at all."""
    from he_learn import LogisticRegression
    from he_learn.he.polynomial import ActivationRangeWarning

    X, y = data(16, 3, 4, binary=True)
    X = X * 8  # the second step's scores leave the interval, the weights stay representable
    with pytest.raises(PrecisionError, match="interval"):
        LogisticRegression(
            backend="ckks", max_iter=2, learning_rate=1.0, progress=False, backend_options={"activation_policy": "raise"}
        ).fit(X, y)
    with pytest.warns(ActivationRangeWarning, match="interval") as caught:
        # lr 0.3 for 5 steps: the scores leave the interval slightly on 3 steps, never diverge
        model = LogisticRegression(backend="ckks", max_iter=5, learning_rate=0.3, progress=False).fit(X, y)
    # "warn" says it once per fit, summed over the steps, not once per step
    assert len([w for w in caught if issubclass(w.category, ActivationRangeWarning)]) == 1
    assert "summed over the training steps" in str(caught[0].message)
    report = model.training_report_
    assert report["activation_out_of_interval"] > 0 and report["range_flag_bytes"] > 0
    assert report["loss_history"] == []  # nothing logged: the flags alone caught it
    # in-range training raises no flag (pytest turns a stray warning into an error)
    quiet = LogisticRegression(backend="ckks", max_iter=3, learning_rate=0.1, progress=False).fit(X / 8, y)
    assert quiet.training_report_["activation_out_of_interval"] == 0


@pytest.mark.parametrize("learning_rate", [1e-9, 1e-12])
def test_learning_rates_below_the_scale_raise_precision_error(learning_rate):
    """Review finding: lr 1e-8 came out ~50% off and lr <= 1e-9 escaped as SEAL's
    'result ciphertext is transparent' RuntimeError."""
    X, y = data(8, 3, 12)
    with pytest.raises(PrecisionError, match="learning rate"):
        train_encrypted(X, y, EncryptedTrainingSpec("squared", 1, learning_rate), preset="training")
