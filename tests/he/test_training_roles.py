"""The CKKS trainer and key holder as separate roles: in one process every message
still crosses as bytes; in two processes they give the in-process weights."""

from __future__ import annotations

import importlib.util
import json
import time

import numpy as np
import pytest

from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.he.keys import KeyHolder
from he_learn.he.presets import TRAINING_RELEASE
from he_learn.he.public_context import PublicContext
from he_learn.he.weights_release import release_policy

import ckks_role_targets
from he_learn.approximations import TENSEAL_TUTORIAL_SIGMOID3
from he_learn.comm.launch import run_roles
from he_learn.comm.ledger import Ledger
from he_learn.comm.local import InProcessCommunicator
from he_learn.errors import CommunicationError, PrecisionError, ProtocolError, SecurityError
from he_learn.he import role_messages as msg
from he_learn.he.key_holder_service import TrainingKeyHolder
from he_learn.he.trainer import KeyHolderClient
from he_learn.he.training import EncryptedTrainingSpec, train_encrypted

ROLES = (msg.TRAINER, msg.KEY_HOLDER)
needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="multi-process runs need torch")
SEED = 11


def plain_run(X, y, spec):
    w = np.zeros(X.shape[1])
    for _ in range(spec.max_iter):
        z = X @ w
        r = (spec.approximation(z) if spec.objective == "logistic" else z) - y
        g = X.T @ r / (len(y) if spec.gradient == "mean" else 1)
        w = w - spec.learning_rate * (g + spec.l2 * w)
    return w


def xor_reservoir():
    inputs = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    rng = np.random.default_rng(0)  # the public reservoir projection
    return np.maximum(inputs @ rng.normal(size=(2, 256)), 0.0), np.array([0.0, 1.0, 1.0, 0.0])


def logistic_data(n=40, d=4, seed=2):
    rng = np.random.default_rng(seed)  # public test data
    X = rng.normal(size=(n, d)) / np.sqrt(d)
    return X, (X @ rng.normal(size=d) > 0).astype(float)


LOGISTIC = EncryptedTrainingSpec("logistic", 3, 1.0, "mean", l2=0.05, approximation=TENSEAL_TUTORIAL_SIGMOID3, log_every=1)


def two_processes(X, y, spec, model_to="key_holder", timeout=240):
    reports = run_roles(ckks_role_targets.train, ROLES, args=(X.tolist(), y.tolist(), spec.to_header(), model_to, SEED),
                        timeout=timeout, comm_timeout=60)
    holder = "key-holder" if model_to == "key_holder" else "trainer"
    ledger = Ledger.merge(Ledger.from_dict(r["ledger"]) for r in reports.values())
    return np.asarray(reports[holder]["result"]["weights"]), reports, ledger


# -- one process: the same split code, every message as bytes -------------------------
@pytest.mark.parametrize("model_to", ["key_holder", "trainer"])
def test_in_process_run_crosses_every_message_as_bytes(model_to):
    X, y = logistic_data()
    comm = InProcessCommunicator(ROLES)
    seen = []
    original = comm.call

    def spy(src, service, kind, request):
        assert isinstance(request, bytes)
        pending = original(src, service, kind, request)
        seen.append((kind, type(pending.result())))
        return pending

    comm.call = spy  # type: ignore[method-assign]
    from he_learn.he.training import run_training

    outcome = run_training(comm, X=X, y=y, spec=LOGISTIC, model_to=model_to, insecure_mask_seed=SEED)
    assert {kind for kind, _ in seen} == {msg.SETUP, msg.BLOCKS, msg.REFRESH, msg.LOSS, msg.FINAL}
    assert all(t is bytes for _, t in seen)
    # model_to="trainer": the release floods each weight with noise of std release_weight_std
    slack = 5 * outcome.report.get("release_weight_std", 0.0)
    np.testing.assert_allclose(outcome.weights, plain_run(X, y, LOGISTIC), atol=2e-3 + slack)
    assert len(outcome.report["loss_history"]) == 3  # the key holder's, in its report
    ledger = comm.ledger
    assert ledger.requests[msg.LOSS] == 3 and ledger.requests[msg.FINAL] == 1
    assert outcome.report["rounds"] == ledger.requests[msg.REFRESH] + 3 + 1
    assert outcome.report["bytes_sent"] == sum(ledger.request_bytes.values()) + sum(ledger.service_bytes.values())


def test_model_to_trainer_gives_the_trainer_the_weights_and_the_key_holder_none():
    X, y = logistic_data()
    w_holder, _ = train_encrypted(X, y, LOGISTIC, model_to="key_holder")
    comm = InProcessCommunicator(ROLES)
    from he_learn.he.training import run_training

    holder_weights = []
    original = TrainingKeyHolder._final

    def spy(self, request):
        reply = original(self, request)
        holder_weights.append(self.weights)
        return reply

    TrainingKeyHolder._final = spy  # type: ignore[method-assign]
    try:
        outcome = run_training(comm, X=X, y=y, spec=LOGISTIC, model_to="trainer")
    finally:
        TrainingKeyHolder._final = original  # type: ignore[method-assign]
    assert holder_weights == [None]  # the key holder kept no weights
    report = outcome.report
    assert report["model_to"] == "trainer" and report["preset"] == "training-release"
    assert report["release_security_bits"] == 30 and 0 < report["release_weight_std"] <= 0.02
    np.testing.assert_allclose(outcome.weights, w_holder, atol=1e-3 + 5 * report["release_weight_std"])


def test_model_to_trainer_is_refused_where_flooding_would_drown_the_weights():
    """'training' (scale 2^26): 30-bit flooding of even a fresh error costs std ~10^2 per weight."""
    X, y = logistic_data()
    with pytest.raises(PrecisionError, match="training-release"):
        TrainingKeyHolder(X, y, LOGISTIC, preset="training", model_to="trainer")


def test_the_weights_release_refuses_a_ciphertext_beyond_its_calibrated_bound():
    """A final ciphertext noisier than the refreshes showed would be under-flooded: refused."""
    X, y = logistic_data()
    layout = FeatureMajorLayout(*X.shape, TRAINING_RELEASE.slot_count)
    keys = KeyHolder(TRAINING_RELEASE, release_policy=release_policy(layout))
    holder = TrainingKeyHolder(X, y, LOGISTIC, model_to="trainer", key_holder=keys)
    engine = holder.setup.public_context.engine()
    quiet = engine.drop_to(engine.encrypt(np.full(engine.slot_count, 0.5)), 0)
    holder.weights_release.calibrate(keys.decrypt_internal_complex(quiet).imag)
    noisy = engine.encrypt(np.full(engine.slot_count, 0.5))
    for _ in range(4):
        noisy = engine.rotate(noisy, 1)
        noisy = engine.multiply(noisy, engine.encrypt(np.ones(engine.slot_count), level=noisy.level))
    with pytest.raises(SecurityError, match="beyond the stated bound"):
        holder.weights_release.release(noisy)
    released = holder.weights_release.release(quiet)
    assert np.max(np.abs(released - 0.5)) < 10 * holder.weights_release.report["release_sigma"]


# -- the key holder refuses what the protocol does not allow -----------------------
@pytest.fixture(scope="module")
def served(training_holder):
    X, y = logistic_data()
    holder = TrainingKeyHolder(X, y, LOGISTIC, key_holder=training_holder)
    return holder


def _fresh_service(training_holder):
    X, y = logistic_data()
    holder = TrainingKeyHolder(X, y, LOGISTIC, key_holder=training_holder)
    comm = InProcessCommunicator(ROLES)
    comm.serve(msg.KEY_HOLDER, holder.handle, [msg.TRAINER])
    return holder, comm, KeyHolderClient(comm)


def test_the_key_holder_enforces_order_counts_and_budgets(training_holder):
    holder, comm, client = _fresh_service(training_holder)
    with pytest.raises(ProtocolError, match="before the setup"):
        comm.call(msg.TRAINER, msg.KEY_HOLDER, msg.BLOCKS, msg.encode(msg.BLOCKS, {"role": "matrix", "start": 0, "count": 1}))
    setup = client.fetch_setup()
    with pytest.raises(ProtocolError, match="already"):
        client.fetch_setup()
    with pytest.raises(CommunicationError, match="start"):
        comm.call(msg.TRAINER, msg.KEY_HOLDER, msg.BLOCKS, msg.encode(msg.BLOCKS, {"role": "matrix", "start": 5, "count": 1}))
    with pytest.raises(CommunicationError, match="'matrix' or 'xty'"):
        comm.call(msg.TRAINER, msg.KEY_HOLDER, msg.BLOCKS, msg.encode(msg.BLOCKS, {"role": "samples", "start": 0, "count": 1}))
    with pytest.raises(ProtocolError, match="trainer only"):
        holder.handle(msg.KEY_HOLDER, msg.encode(msg.SETUP, {}))
    # the trainer's refreshes carry the weights or every block's scores, nothing else
    engine = setup.public_context.engine()
    from he_learn.he import envelope

    ct = envelope.pack(engine.encrypt(np.zeros(engine.slot_count)))
    with pytest.raises(CommunicationError, match="ciphertexts where 3 were expected"):
        comm.call(msg.TRAINER, msg.KEY_HOLDER, msg.REFRESH, msg.encode(msg.REFRESH, {"values": 1, "flags": 2}, [ct]))
    with pytest.raises(CommunicationError, match="flags must be an integer in"):  # beyond one pack per level
        comm.call(msg.TRAINER, msg.KEY_HOLDER, msg.REFRESH, msg.encode(msg.REFRESH, {"values": 1, "flags": 6}, [ct] * 7))
    # a curious trainer asking for more loss releases than the spec logs is refused
    for _ in range(LOGISTIC.loss_logs):
        client.loss([ct])
    with pytest.raises(ProtocolError, match="logs the loss 3 time"):
        client.loss([ct])
    client.final([ct], [], 0)
    with pytest.raises(ProtocolError, match="run is over"):
        client.refresh([ct])


def test_malformed_messages_are_communication_errors():
    with pytest.raises(CommunicationError, match="unknown CKKS message"):
        msg.parse(msg.encode(msg.FINAL, {"released": 0}, reply=True), reply=False)
    from he_learn.comm import wire

    forged = wire.dump_frame(b"HLCT", 1, {"message": msg.LOSS, "reply": True, "loss": 1.0, "extra": 1})
    with pytest.raises(CommunicationError, match="exactly the fields"):
        msg.parse(forged, reply=True)
    header = LOGISTIC.to_header()
    assert EncryptedTrainingSpec.from_header(header) == LOGISTIC
    for field, value in (("max_iter", 10**9), ("learning_rate", "1"), ("objective", "cubic"), ("max_iter", True)):
        with pytest.raises(CommunicationError):
            EncryptedTrainingSpec.from_header({**header, field: value})
    with pytest.raises(CommunicationError, match="coefficients"):
        EncryptedTrainingSpec.from_header({**header, "approximation": {**header["approximation"], "coefficients": [0.5] * 40}})
    params = {"name": "x", "poly_modulus_degree": 8192, "coeff_mod_bit_sizes": [60, 40, 60], "scale_bits": 40, "source": "",
              "additive_only": False, "mask_domain": "slots"}
    context = wire.dump_frame(b"HLPC", 1, {"params": params, "rotation_steps": [1, 1], "fingerprint": "ab",
                                          "data_sha256": "0" * 64}, [b""])
    with pytest.raises(CommunicationError, match="distinct"):
        PublicContext.from_bytes(context)


def test_the_setup_round_trips_through_its_wire_form(served):
    setup = msg.TrainingSetup.from_bytes(served.setup.to_bytes())
    assert setup.spec == LOGISTIC and setup.layout == served.layout and setup.model_to == "key_holder"
    assert setup.public_context.data == served.setup.public_context.data


# -- two processes ---------------------------------------------------------------------

@needs_torch
def test_two_processes_give_the_in_process_weights_on_xor():
    X, y = xor_reservoir()
    spec = EncryptedTrainingSpec("squared", 30, 1e-3, "sum")
    w_two, reports, ledger = two_processes(X, y, spec)
    w_one, report = train_encrypted(X, y, spec, insecure_mask_seed=SEED)
    # the same protocol and masks; only SEAL's fresh encryption noise differs
    np.testing.assert_allclose(w_two, w_one, atol=1e-4)
    np.testing.assert_allclose(w_two, plain_run(X, y, spec), atol=1e-3)
    assert reports["trainer"]["result"]["weights"] is None  # the trainer never sees a weight
    assert ledger.requests[msg.REFRESH] == report["refreshes"] == 29
    assert ledger.request_bytes[msg.REFRESH] + ledger.service_bytes[msg.REFRESH] == pytest.approx(
        report["refresh_bytes"], rel=0.01)


@needs_torch
def test_two_processes_give_the_in_process_weights_on_framingham():
    from he_learn.bench.framingham import load_framingham

    try:
        X, y, _, _ = load_framingham(seed=73)
    except FileNotFoundError as exc:
        pytest.skip(f"Framingham data absent: {exc}")
    X = np.hstack([X, np.ones((len(X), 1))])
    spec = EncryptedTrainingSpec("logistic", 5, 1.0, "mean", l2=0.05, approximation=TENSEAL_TUTORIAL_SIGMOID3)
    w_two, reports, _ = two_processes(X, y, spec, model_to="trainer")
    w_one, report = train_encrypted(X, y, spec, insecure_mask_seed=SEED, model_to="trainer")
    # each release adds its own flooding noise (the key holder's private stream)
    slack = 5 * report["release_weight_std"]
    np.testing.assert_allclose(w_two, w_one, atol=2 * slack)
    np.testing.assert_allclose(w_two, plain_run(X, y, spec), atol=2e-3 + slack)
    w_kept, _, _ = two_processes(X, y, spec)
    w_in, _ = train_encrypted(X, y, spec, insecure_mask_seed=SEED)
    # no release: equal up to the CKKS noise of the key holder's fresh encryptions
    np.testing.assert_allclose(w_kept, w_in, atol=1e-4)


@needs_torch
def test_a_key_holder_error_reaches_the_trainer_as_the_same_class():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3)) * 10 / np.sqrt(3)
    y = X @ rng.normal(size=3)
    spec = EncryptedTrainingSpec("squared", 30, 10.0, "sum")  # diverges: the key holder's refresh check fires
    with pytest.raises(PrecisionError, match="key-holder reported: .*learning rate"):
        two_processes(X, y, spec)


@needs_torch
def test_a_killed_key_holder_is_a_communication_error_within_the_timeout(tmp_path):
    X, y = logistic_data()
    record = str(tmp_path / "trainer.json")
    timeout = 8.0
    with pytest.raises(CommunicationError):
        run_roles(ckks_role_targets.killed_key_holder, ROLES, args=(X.tolist(), y.tolist(), LOGISTIC.to_header(), record),
                  timeout=120, comm_timeout=timeout)
    seen = json.loads((tmp_path / "trainer.json").read_text())
    killed_at = float((tmp_path / "trainer.json.killed").read_text())
    assert seen["error"] == "CommunicationError" and "key-holder" in seen["message"]
    assert seen["at"] - killed_at <= timeout + 5.0


@needs_torch
@pytest.mark.slow
def test_two_processes_train_the_whole_xor_demo_like_one():
    X, y = xor_reservoir()
    spec = EncryptedTrainingSpec("squared", 250, 1e-3, "sum", log_every=50)
    start = time.perf_counter()
    w_two, reports, _ = two_processes(X, y, spec)
    seconds = time.perf_counter() - start
    w_one, _ = train_encrypted(X, y, spec, insecure_mask_seed=SEED)
    np.testing.assert_allclose(w_two, w_one, atol=1e-3)
    assert np.array_equal((X @ w_two > 0.5).astype(int), y.astype(int))
    print(f"XOR in two processes: {seconds:.1f} s, {reports['trainer']['result']['report']['refreshes']} refreshes")
