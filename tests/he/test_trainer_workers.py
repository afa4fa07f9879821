"""The per-block work of a step: streamed in one process or spread over worker
processes, the same ciphertexts bit for bit; and it equals the plaintext step,
for one output and for several (one-vs-rest) sharing the blocks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from he_learn._native import Csprng
from he_learn.approximations import TENSEAL_TUTORIAL_SIGMOID3
from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.errors import ParameterError
from he_learn.he import envelope
from he_learn.he import role_messages as msg
from he_learn.he.refresh import range_flag_factors
from he_learn.he.seal_io import save_seal
from he_learn.he.trainer_blocks import LocalBlocks
from he_learn.he.trainer_workers import WorkerPool, worker_ranges
from he_learn.he.training_spec import EncryptedTrainingSpec

SPEC = EncryptedTrainingSpec("logistic", 2, 1.0, "mean", approximation=TENSEAL_TUTORIAL_SIGMOID3, log_every=1)
OUTPUTS = 2


@pytest.fixture(scope="module")
def run(training_holder):
    rng = np.random.default_rng(3)  # public test data
    layout = FeatureMajorLayout(700, 6, training_holder.params.slot_count)  # 2 blocks of 512 samples
    X = rng.normal(size=(layout.n_samples, layout.n_features)) / 3
    public = training_holder.public_context(layout.rotation_steps)
    setup = msg.TrainingSetup(public, layout, replace(SPEC, outputs=OUTPUTS), "key_holder")
    blocks = [training_holder.encrypt_envelope(row, layout=setup.matrix_layout())
              for row in layout.pack_matrix(X / SPEC.input_scale)]
    w = rng.normal(size=(layout.n_features, OUTPUTS)) / 4
    # one encryption per output for every run
    w_envelopes = [envelope.pack(public.engine().encrypt(layout.pack_weights(col))) for col in w.T]
    return training_holder, setup, blocks, X, w, w_envelopes


def _step(setup, blocks, w_envelopes, workers, outputs):
    setup = replace(setup, spec=replace(setup.spec, outputs=outputs))
    engine = setup.public_context.engine()
    holder_ = LocalBlocks(engine, setup.layout, setup.spec, False) if workers == 1 else WorkerPool(setup, False, workers)
    try:
        for index, data in enumerate(blocks):
            holder_.add_envelope(index, data)
        holder_.finish_loading()
        weights = [envelope.load(engine, w) for w in w_envelopes[:outputs]]
        n = setup.layout.n_ciphertexts
        rho = range_flag_factors(setup.layout, Csprng(bytes(32)), outputs * n).reshape(outputs, n, -1)
        return holder_.backward(weights, None, rho, True), engine
    finally:
        holder_.close()


@pytest.mark.parametrize("outputs", [1, OUTPUTS])
def test_two_workers_give_the_same_ciphertexts_as_one(run, outputs):
    holder, setup, blocks, X, w, w_envelopes = run
    one, _ = _step(setup, blocks, w_envelopes, 1, outputs)
    two, _ = _step(setup, blocks, w_envelopes, 2, outputs)
    layout = setup.layout
    assert sorted(one.acc) == sorted(two.acc) == list(range(outputs))
    assert all(save_seal(one.acc[k].seal) == save_seal(two.acc[k].seal) for k in range(outputs))
    assert sorted(one.packs) == sorted(two.packs) == list(range(outputs * layout.n_packs))
    assert all(save_seal(one.packs[k].seal) == save_seal(two.packs[k].seal) for k in one.packs)
    assert one.predictions == two.predictions
    assert sorted(one.predictions) == list(range(outputs * layout.n_ciphertexts))
    # and each output's sum is X.T p_k (s X is what the backward pass multiplies by)
    engine = setup.public_context.engine()
    for k in range(outputs):
        summed = engine.rescale(engine.rotate_sum(one.acc[k], layout.sample_sum_steps))
        head = holder.decrypt(summed).reshape(layout.d_pad, layout.group)[: layout.n_features, 0]
        p = TENSEAL_TUTORIAL_SIGMOID3(X @ w[:, k])
        np.testing.assert_allclose(head, X.T @ p, atol=5e-3)  # 700 terms at scale 2^26
        predictions = [
            holder.decrypt(envelope.load(holder.engine(), one.predictions[k * layout.n_ciphertexts + b]))[
                layout.sample_slots(b)]
            for b in range(layout.n_ciphertexts)
        ]
        np.testing.assert_allclose(np.concatenate(predictions), p, atol=1e-3)


def test_worker_ranges_cover_every_block_once():
    assert worker_ranges(7, 2) == [(0, 3), (3, 7)]
    assert worker_ranges(2, 2) == [(0, 1), (1, 2)]
    with pytest.raises(ParameterError):
        worker_ranges(1, 2)


def test_a_worker_error_comes_back_typed(run):
    holder, setup, blocks, *_ = run
    pool = WorkerPool(setup, False, 2)
    try:
        pool.add_envelope(0, blocks[0])
        pool.add_envelope(1, blocks[0][:-5])  # truncated: the worker refuses it
        with pytest.raises(Exception) as caught:
            pool.finish_loading()
        assert caught.value.__class__.__name__ == "CommunicationError" and "trainer worker 1" in str(caught.value)
    finally:
        pool.close()
