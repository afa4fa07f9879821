"""The seed leak (issue 9, sec. 6): a seed is a master secret, and sessions must never share a stream.

A review found that ``seed=`` was a master secret for every party: whoever knows
it recomputes the other parties' private streams, and the benchmark seeds are
public strings. It also found that, with the seed set, the smpc backend's
training session and its secure-prediction session started from the same
streams, so every party learnt X_train[:n_test] - X_test from the two Beaver
openings E = X - A (same mask A in both). The fixes: the option is
``insecure_seed`` (tests only), every stream is derived from the session's
label and its owner, and without it every stream comes from the OS.

Each test shows the attack working where the defence is absent (the same label,
or a public seed) and failing where it is present. The job-level tests run
in-process and with one thread per party (the ``mpc`` fixture); the backend's
own train-then-predict test runs its in-process adapter.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from he_learn.encoding.fixed_point import FixedPointEncoder
from he_learn.models.backend import TrainingConfig, TrainingProblem
from he_learn.models.smpc_backend import TRAINING_LABEL, make_backend
from he_learn.smpc import MaskedMatrix, Session
from he_learn.smpc.dealer import draw_ring

# A public string, like the benchmarks' seeds: anyone reading the code knows it.
PUBLIC_SEED = b"benchmarks/logreg:0"
ENCODER = FixedPointEncoder()
# |v| < 2^(integer_bits + fractional_bits): where every encoded in-range value lies.
IN_RANGE = 2.0 ** (ENCODER.integer_bits + ENCODER.fractional_bits)

_rng = np.random.default_rng(9)  # public test data
X_TRAIN = _rng.normal(size=(12, 4))
X_TEST = _rng.normal(size=(6, 4))
W = np.array([0.5, -0.25, 1.0, 0.125])
N_TEST = len(X_TEST)


class BobsView:
    """The values opened in bob's process, per job, in order (in-process: the one session's)."""

    def __init__(self) -> None:
        self._opened: dict[str, list[np.ndarray]] = {}
        self._lock = threading.Lock()

    def record(self, session: Session, opened: list[np.ndarray]) -> None:
        if session.runs("bob"):
            with self._lock:
                self._opened.setdefault(session.label, []).extend(np.array(o) for o in opened)

    def take(self, label: str) -> list[np.ndarray]:
        """What bob saw opened in session ``label`` since the last take."""
        with self._lock:
            return self._opened.pop(label)


@pytest.fixture
def bobs_view(monkeypatch: pytest.MonkeyPatch) -> BobsView:
    """Records every opening (Beaver, masked matmul, comparison, reveal) that bob's process sees."""
    import he_learn.smpc.comparison as comparison
    import he_learn.smpc.masked as masked
    import he_learn.smpc.protocols as protocols
    import he_learn.smpc.shared as shared

    view = BobsView()
    real = protocols.open_values

    def recording(session: Session, values: Any) -> list[np.ndarray]:
        out = real(session, values)
        view.record(session, out)
        return out

    for module in (protocols, masked, comparison, shared):
        monkeypatch.setattr(module, "open_values", recording)
    return view


def _ring_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a.astype(np.int64) - b.astype(np.int64)).astype(np.int64)


def _looks_uniform(ring: np.ndarray) -> bool:
    """A uniform element of Z_2^64 lands in the encoder's range with probability 2^-17:
    at most one of these entries may (a data difference puts every entry there)."""
    return int(np.count_nonzero(np.abs(ring.astype(np.float64)) < IN_RANGE)) <= 1


def _training_job(mpc, view: BobsView, label: str, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Alice shares X_TRAIN and training's masked matmul opens E = X - A.
    Returns (bob's share of X, the E bob saw)."""

    def fn(s: Session) -> np.ndarray | None:
        X = mpc.share(s, X_TRAIN, "alice")
        MaskedMatrix(X).matmul(mpc.share(s, W, "bob"))
        return X.share_of("bob") if s.runs("bob") else None

    (bobs_share,) = [v for v in mpc.run(fn, label=label, **kwargs) if v is not None]
    return bobs_share, view.take(label)[0]


def _prediction_job(mpc, view: BobsView, label: str, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Alice shares X_TEST, bob the weights; prediction's Beaver matmul opens E = X - A first."""

    def fn(s: Session) -> np.ndarray | None:
        X = mpc.share(s, X_TEST, "alice")
        X @ mpc.share(s, W, "bob")
        return X.share_of("bob") if s.runs("bob") else None

    (bobs_share,) = [v for v in mpc.run(fn, label=label, **kwargs) if v is not None]
    return bobs_share, view.take(label)[0]


def test_the_attack_one_label_for_training_and_prediction_leaks_the_input_difference(mpc, bobs_view) -> None:
    """What the old code did: training and prediction started from the same streams."""
    share_train, e_train = _training_job(mpc, bobs_view, "one-label", insecure_seed=PUBLIC_SEED)
    share_test, e_test = _prediction_job(mpc, bobs_view, "one-label", insecure_seed=PUBLIC_SEED)
    leaked = _ring_difference(e_train[:N_TEST], e_test)
    # Bob (and every party) computes X_train[:n_test] - X_test, exactly, from two openings.
    assert np.array_equal(leaked, _ring_difference(ENCODER.encode(X_TRAIN[:N_TEST]), ENCODER.encode(X_TEST)))
    # Alice's private stream repeated too: bob got the very same random shares twice.
    assert np.array_equal(share_train[:N_TEST], share_test)


def test_distinct_labels_under_one_seed_leak_nothing(mpc, bobs_view) -> None:
    """The backend's labels, under one public seed: every stream differs, so the
    difference of the openings is uniform noise instead of the data's difference."""
    share_train, e_train = _training_job(mpc, bobs_view, TRAINING_LABEL, insecure_seed=PUBLIC_SEED)
    share_1, e_1 = _prediction_job(mpc, bobs_view, "predict-1", insecure_seed=PUBLIC_SEED)
    share_2, e_2 = _prediction_job(mpc, bobs_view, "predict-2", insecure_seed=PUBLIC_SEED)
    data_difference = _ring_difference(ENCODER.encode(X_TRAIN[:N_TEST]), ENCODER.encode(X_TEST))
    leaked = _ring_difference(e_train[:N_TEST], e_1)
    assert not np.array_equal(leaked, data_difference)
    assert _looks_uniform(leaked) and _looks_uniform(_ring_difference(leaked, data_difference))
    # Two predictions of the same X_TEST: the openings differ by noise, not by 0.
    assert _looks_uniform(_ring_difference(e_1, e_2))
    # And bob's shares never repeat across the three sessions.
    for a, b in ((share_train[:N_TEST], share_1), (share_1, share_2)):
        assert _looks_uniform(_ring_difference(a, b))


def test_smpc_backend_training_and_predictions_use_distinct_streams(monkeypatch, bobs_view) -> None:
    """SmpcBackend itself (its in-process adapter: train, then predict twice) under a public seed."""
    import he_learn.models.smpc_backend as smpc_backend
    import he_learn.models.smpc_training as smpc_training

    bobs_shares: dict[str, list[np.ndarray]] = {}
    real_share = smpc_training.share

    def recording_share(session: Session, value: Any, owner: str) -> Any:
        x = real_share(session, value, owner)
        if owner == "alice" and x.ndim == 2:
            bobs_shares.setdefault(session.label, []).append(x.share_of("bob"))
        return x

    monkeypatch.setattr(smpc_training, "share", recording_share)
    monkeypatch.setattr(smpc_backend, "share", recording_share)
    backend = make_backend(insecure_seed=PUBLIC_SEED)
    y = (X_TRAIN[:, 0] > 0).astype(float)
    config = TrainingConfig(max_iter=1, learning_rate=1e-3)
    weights = backend.train(TrainingProblem(X_TRAIN, y, "squared"), config).weights
    backend.predict(X_TEST, weights)
    backend.predict(X_TEST, weights)
    e_train = bobs_view.take(TRAINING_LABEL)[0]
    e_1, e_2 = bobs_view.take("predict-1")[0], bobs_view.take("predict-2")[0]
    assert e_train.shape == X_TRAIN.shape and e_1.shape == e_2.shape == X_TEST.shape
    data_difference = _ring_difference(ENCODER.encode(X_TRAIN[:N_TEST]), ENCODER.encode(X_TEST))
    leaked = _ring_difference(e_train[:N_TEST], e_1)
    assert not np.array_equal(leaked, data_difference)
    assert _looks_uniform(leaked) and _looks_uniform(_ring_difference(leaked, data_difference))
    assert _looks_uniform(_ring_difference(e_1, e_2))
    (s_train,), (s_1,), (s_2,) = (bobs_shares[k] for k in (TRAINING_LABEL, "predict-1", "predict-2"))
    for a, b in ((s_train[:N_TEST], s_1), (s_1, s_2)):
        assert _looks_uniform(_ring_difference(a, b))


def _replayed_streams(label: str, insecure_seed: Any) -> tuple[np.ndarray, np.ndarray]:
    """The attack on a seed: bob runs the published code himself, every party in
    his own process, with the public seed and the job's public label. Returns what
    alice's private stream sends bob first, and the dealer's first mask A (shape of X)."""
    replay = Session(("alice", "bob"), label=label, insecure_seed=insecure_seed)
    to_bob = draw_ring(replay.private("alice"), X_TRAIN.shape)
    mask = sum(stream.uniform(X_TRAIN.shape) for stream in replay.local_streams())
    return to_bob, np.asarray(mask, dtype=np.int64)


def test_the_attack_a_public_seed_gives_away_every_stream(mpc, bobs_view) -> None:
    """With insecure_seed set, bob recomputes alice's private stream and the dealer's
    streams from public values alone, and with them X from the opening E = X - A."""
    share_of_bob, e = _training_job(mpc, bobs_view, TRAINING_LABEL, insecure_seed=PUBLIC_SEED)
    to_bob, mask = _replayed_streams(TRAINING_LABEL, PUBLIC_SEED)
    assert np.array_equal(to_bob, share_of_bob)  # alice's private stream, recomputed
    assert np.array_equal((e + mask).astype(np.int64), ENCODER.encode(X_TRAIN))  # X itself


def test_without_a_seed_no_stream_repeats_or_can_be_recomputed(mpc, bobs_view) -> None:
    # Two jobs with the SAME label: only fresh OS randomness keeps them apart.
    share_train, e_train = _training_job(mpc, bobs_view, "one-label")
    share_test, e_test = _prediction_job(mpc, bobs_view, "one-label")
    data_difference = _ring_difference(ENCODER.encode(X_TRAIN[:N_TEST]), ENCODER.encode(X_TEST))
    leaked = _ring_difference(e_train[:N_TEST], e_test)
    assert _looks_uniform(leaked) and _looks_uniform(_ring_difference(leaked, data_difference))
    assert _looks_uniform(_ring_difference(share_train[:N_TEST], share_test))

    # Every party's private stream and its dealer stream differ from job to job.
    def first_draws(s: Session) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return {p: (draw_ring(s.private(p), (16,)), stream.uniform((16,)))
                for p, stream in zip(s.local, s.local_streams())}

    def job() -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return {p: draws for views in mpc.run(first_draws, label="one-label") for p, draws in views.items()}

    first, second = job(), job()
    for party in ("alice", "bob"):
        for a, b in zip(first[party], second[party]):
            assert _looks_uniform(_ring_difference(a, b))

    # Nothing public recomputes them: bob's replay with every public value he knows fails.
    share_of_bob, e = _training_job(mpc, bobs_view, TRAINING_LABEL)
    for guess in (PUBLIC_SEED, TRAINING_LABEL.encode(), b"alice", 0, None):
        to_bob, mask = _replayed_streams(TRAINING_LABEL, guess)
        assert _looks_uniform(_ring_difference(to_bob, share_of_bob))
        assert _looks_uniform(_ring_difference((e + mask).astype(np.int64), ENCODER.encode(X_TRAIN)))
