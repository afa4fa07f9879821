"""One-vs-rest under CKKS: K weight vectors trained on the same ciphertexts of X.

Each output is the binary fit of its class, the K refreshes ride in one round a
step, X crosses once, the model can be released to the trainer, and a trainer
that sends the wrong number of ciphertexts for K outputs is refused."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from he_learn.approximations import TENSEAL_TUTORIAL_SIGMOID3
from he_learn.comm.local import InProcessCommunicator
from he_learn.errors import CommunicationError, ParameterError
from he_learn.he import envelope
from he_learn.he import role_messages as msg
from he_learn.he.key_holder_service import TrainingKeyHolder
from he_learn.he.trainer import KeyHolderClient
from he_learn.he.training import EncryptedTrainingSpec, train_encrypted
from he_learn.he.training_spec import MAX_OUTPUTS

K = 3
SPEC = EncryptedTrainingSpec("logistic", 3, 1.0, "mean", l2=0.05, approximation=TENSEAL_TUTORIAL_SIGMOID3,
                             log_every=1, outputs=K)


def three_classes(n=300, d=5, seed=4):
    rng = np.random.default_rng(seed)  # public test data
    X = rng.normal(size=(n, d)) / np.sqrt(d)
    labels = np.argmax(X @ rng.normal(size=(d, K)), axis=1)
    return X, np.eye(K)[labels]


def plain_ovr(X, Y, spec):
    W = np.zeros((X.shape[1], Y.shape[1]))
    for _ in range(spec.max_iter):
        W = W - spec.learning_rate * (X.T @ (spec.approximation(X @ W) - Y) / len(X) + spec.l2 * W)
    return W


@pytest.fixture(scope="module")
def ovr_and_binaries():
    X, Y = three_classes()
    ovr = train_encrypted(X, Y, SPEC, insecure_mask_seed=1)
    binaries = [train_encrypted(X, Y[:, k], replace(SPEC, outputs=1), insecure_mask_seed=1) for k in range(K)]
    return X, Y, ovr, binaries


def test_each_output_is_its_class_binary_fit(ovr_and_binaries):
    X, Y, (weights, report), binaries = ovr_and_binaries
    assert weights.shape == (X.shape[1], K) and report["n_outputs"] == K
    np.testing.assert_allclose(weights, plain_ovr(X, Y, SPEC), atol=3e-3)  # 300 samples at scale 2^26
    for k, (binary, _) in enumerate(binaries):
        np.testing.assert_allclose(weights[:, k], binary, atol=3e-3)
    # the key holder's loss sums every output's residuals: sum |p - Y|
    W0 = np.zeros((X.shape[1], K))
    assert report["loss_history"][0] == pytest.approx(np.abs(SPEC.approximation(X @ W0) - Y).sum(), rel=1e-3)


def test_k_outputs_share_the_rounds_and_the_data(ovr_and_binaries):
    _, _, (_, ovr), binaries = ovr_and_binaries
    binary = binaries[0][1]
    # one round a step for K outputs, as for one: the K weights ride together
    assert ovr["refreshes"] == binary["refreshes"] and ovr["rounds"] == binary["rounds"]
    # the refreshes carry K times the ciphertexts (and flags) ...
    assert ovr["refresh_bytes"] == pytest.approx(K * binary["refresh_bytes"], rel=0.05)
    # ... but X is encrypted and sent once: K binary fits send it K times
    k_fits_setup = sum(b[1]["setup_bytes"] for b in binaries)
    assert ovr["setup_bytes"] < 0.5 * k_fits_setup
    assert ovr["ciphertexts_per_matrix"] == binary["ciphertexts_per_matrix"]


def test_the_k_outputs_can_go_to_the_trainer_flooded():
    X, Y = three_classes(n=120, d=4)
    spec = replace(SPEC, max_iter=2, log_every=0)
    kept, _ = train_encrypted(X, Y, spec, insecure_mask_seed=2)
    released, report = train_encrypted(X, Y, spec, insecure_mask_seed=2, model_to="trainer")
    assert released.shape == (4, K)
    std = report["release_weight_std"]
    assert 0 < std <= 0.02 and report["release_values"] % K == 0
    np.testing.assert_allclose(released, kept, atol=1e-3 + 6 * std)


# -- bad input ----------------------------------------------------------------------------
def test_targets_and_outputs_must_agree(training_holder):
    X, Y = three_classes(n=40)
    with pytest.raises(ParameterError, match=r"y \(n, 3\) for 3 output"):
        TrainingKeyHolder(X, Y[:, 0], SPEC, key_holder=training_holder)
    with pytest.raises(ParameterError, match=r"y \(n,\) for 1 output"):
        TrainingKeyHolder(X, Y, replace(SPEC, outputs=1), key_holder=training_holder)
    for outputs in (0, MAX_OUTPUTS + 1, True, 2.0):
        with pytest.raises(ParameterError, match="outputs"):
            replace(SPEC, outputs=outputs)
    header = SPEC.to_header()
    assert EncryptedTrainingSpec.from_header(header) == SPEC
    for value in (0, MAX_OUTPUTS + 1, "3", None):
        with pytest.raises(CommunicationError, match="outputs"):
            EncryptedTrainingSpec.from_header({**header, "outputs": value})


def test_a_trainer_sending_the_wrong_count_for_k_outputs_is_refused(training_holder):
    X, Y = three_classes(n=40)
    holder = TrainingKeyHolder(X, Y, SPEC, key_holder=training_holder)
    comm = InProcessCommunicator((msg.TRAINER, msg.KEY_HOLDER))
    comm.serve(msg.KEY_HOLDER, holder.handle, [msg.TRAINER])
    client = KeyHolderClient(comm)
    setup = client.fetch_setup()
    assert len(list(client.stream_blocks("xty"))) == K  # one X.T y per output
    engine = setup.public_context.engine()
    ct = envelope.pack(engine.encrypt(np.zeros(engine.slot_count)))
    with pytest.raises(CommunicationError, match=r"weights \(3 ciphertext\(s\)\)"):
        client.refresh([ct])  # one output's weights where three are trained
    with pytest.raises(CommunicationError, match="values must be an integer in"):
        client.loss([ct])  # one block's predictions of one output, not of three
    with pytest.raises(CommunicationError, match="ciphertexts where 3 were expected"):
        client.final([ct], [], 0)
    assert not holder.finished  # nothing was decrypted, the run goes on
    client.refresh([ct] * K)
    client.final([ct] * K, [], 0)
    assert holder.weights.shape == (X.shape[1], K)
