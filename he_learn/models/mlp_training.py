"""A network's minibatch SGD on secret shares, SPMD: one copy for every deployment.

Threat model (docs/design.md, "SMPC training"): n >= 2 honest-but-curious
parties that do not collude and a dealer that colludes with nobody. The data
owner (``session.parties[0]``) shares X and Y; the model owner
(``session.parties[1]``) shares the initial weights and alone receives the
trained ones. Every step runs on shares: :func:`he_learn.models.network.train_plain`'s
steps, one for one (so the plain backend is the reference and the two differ by
the fixed-point error only). What training reveals, each by an explicit call:

- to every party, before training: the public job (architecture, activation,
  hyper-parameters, ``random_state``), hence the initial weights and the batch
  order, which every party derives from ``random_state``; the shapes n x d of
  X and n x K of Y (the shares carry them); the data owner's verdict, one agreed
  status, on whether the initial network stays in the fixed-point range on its
  data (:func:`~he_learn.models.network.check_fixed_point_range`: it learns
  max|x| and keeps it);
- to every party, every ``log_every`` epochs: the loss, the epoch's mean over
  samples of sum_k (p_k - y_k)^2, one scalar;
- to every party, every ``range_check_every`` steps and at the last one: one
  bit per layer, "some pre-activation |z| of this batch has reached the layer's
  bound" (the softmax stand-in's ``input_bound``; ``ESCAPE_FACTOR`` times the
  reach of a polynomial; half the fixed-point range otherwise);
- to the model owner only, at the end: the weights and biases; then one agreed
  bit, "they are in range".

Nothing else is opened except uniformly masked values (Beaver products,
truncations, the bit-sliced comparisons of :mod:`he_learn.smpc.rectifier`).

Costs per step (2 parties; B rows, d inputs, h units, K outputs): each layer's
forward product is one Beaver matmul (2 rounds; in full-batch training X's
mask is opened once, :class:`~he_learn.smpc.masked.MaskedMatrix`); a ReLU 8
rounds and 304 bytes per unit and row, its backward product 1 round; the
backward products of a layer (H.T @ D and D @ W.T) share their 2 rounds
(:func:`~he_learn.smpc.batched.matmuls`); every update shares one truncation.
A 20-10-5-1 ReLU network with a hard-sigmoid output: 39 rounds per step.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from he_learn.approximations import PolynomialApproximation, SoftmaxApproximation
from he_learn.errors import HeLearnError, ParameterError, PrecisionError
from he_learn.models.network import Layer, NetworkSpec, SgdConfig, batch_schedule, check_fixed_point_range, initial_weights
from he_learn.models.plain_backend import ESCAPE_FACTOR
from he_learn.models.smpc_training import SCORE_RANGE_FRACTION
from he_learn.smpc.activations import polynomial as shared_polynomial
from he_learn.smpc.batched import matmuls, scale_many
from he_learn.smpc.masked import MaskedMatrix
from he_learn.smpc.nonlinear import any_outside
from he_learn.smpc.rectifier import hard_sigmoid, relu_with_bits, times_bits
from he_learn.smpc.session import Session
from he_learn.smpc.shared import SharedTensor, share
from he_learn.smpc.softmax import softmax

__all__ = ["train_network_on_shares", "layer_bounds"]


def layer_bounds(spec: NetworkSpec, max_abs: float) -> list[float]:
    """The |z| each layer's range check stops at (module docstring)."""
    poly = spec.polynomial()
    hidden = ESCAPE_FACTOR * max(abs(poly.interval[0]), abs(poly.interval[1])) if poly else SCORE_RANGE_FRACTION * max_abs
    if spec.output == "softmax" and isinstance(spec.softmax, SoftmaxApproximation):
        last = spec.softmax.input_bound
    elif spec.output == "sigmoid" and isinstance(spec.sigmoid, PolynomialApproximation):
        last = ESCAPE_FACTOR * max(abs(spec.sigmoid.interval[0]), abs(spec.sigmoid.interval[1]))
    else:
        last = SCORE_RANGE_FRACTION * max_abs
    return [hidden] * spec.n_hidden + [last]


def _output(spec: NetworkSpec, z: SharedTensor) -> SharedTensor:
    if spec.output == "identity":
        return z
    if spec.output == "softmax":
        if not isinstance(spec.softmax, SoftmaxApproximation):
            raise ParameterError("the exact softmax cannot be computed on shares; use softmax='limit8' or 'limit10'")
        return softmax(z, spec.softmax)
    if spec.sigmoid == "piecewise":
        return hard_sigmoid(z)
    if isinstance(spec.sigmoid, PolynomialApproximation):
        return shared_polynomial(z, spec.sigmoid)
    raise ParameterError(f"the sigmoid {spec.sigmoid!r} cannot be computed on shares; use 'piecewise' or a polynomial")


def _activate(spec: NetworkSpec, z: SharedTensor) -> tuple[SharedTensor, Any]:
    """H = act(Z) and what the backward pass needs for act'(Z): the ReLU's bits or act'(Z)."""
    poly = spec.polynomial()
    if poly is None:
        return relu_with_bits(z, uses=2)
    c0, c1, c2 = poly.coefficients
    square = z * z
    if (c0, c1, c2) == (0.0, 0.0, 1.0):
        return square, z * 2  # x^2 and its exact derivative 2x (an integer multiplier)
    # One truncation for c2 z^2, c1 z and the derivative's 2 c2 z.
    quadratic, linear, slope = scale_many([square, z, z], [c2, c1, 2 * c2])
    return quadratic + linear + c0, slope + c1


def _backward_through(spec: NetworkSpec, error: SharedTensor, saved: Any) -> SharedTensor:
    if spec.polynomial() is None:
        return times_bits(error, saved)
    return error * saved


def _same_scale(x: SharedTensor, scale: int) -> SharedTensor:
    return x if x.scale_bits == scale else SharedTensor(x.session, [s * (np.int64(1) << np.int64(scale - x.scale_bits))
                                                                     for s in x.shares], scale)


def train_network_on_shares(
    session: Session, spec: NetworkSpec, config: SgdConfig, X: np.ndarray | None = None, Y: np.ndarray | None = None,
    *, range_check_every: int, on_step: Callable[[int, int], None] | None = None,
) -> tuple[list[Layer] | None, dict[str, Any]]:
    """Train on shares (module docstring); SPMD, so every party calls it.

    The data owner passes ``X`` (n, n_in) and ``Y`` (n, n_out); every other party
    ``None``. Returns the model owner's trained layers (``None`` elsewhere) and
    this process's report.
    """
    data_owner, model_owner = session.parties[0], session.parties[1]
    ledger = session.ledger
    start, before = time.perf_counter(), ledger.snapshot()
    initial = initial_weights(spec, config.random_state)
    verdict: HeLearnError | None = None
    if session.runs(data_owner):
        try:
            if X is None or Y is None:
                raise ParameterError("the data owner must pass X and Y")
            check_fixed_point_range(spec, initial, float(np.max(np.abs(X), initial=0.0)), session.encoder)
        except HeLearnError as exc:
            verdict = exc
    session.comm.agree(session.parties, data_owner, verdict)
    X_sh = share(session, None if X is None else np.asarray(X, dtype=np.float64), data_owner)
    Y_sh = share(session, None if Y is None else np.asarray(Y, dtype=np.float64), data_owner)
    n = X_sh.shape[0]
    if X_sh.shape != (n, spec.layer_sizes[0]) or Y_sh.shape != (n, spec.layer_sizes[-1]):
        raise ParameterError(f"X must be (n, {spec.layer_sizes[0]}) and Y (n, {spec.layer_sizes[-1]}); the data owner "
                             f"shared {X_sh.shape} and {Y_sh.shape}")
    owns = session.runs(model_owner)
    layers = [(share(session, W if owns else None, model_owner), share(session, b if owns else None, model_owner))
              for W, b in initial]
    full_batch = config.batch_size >= n
    masked = MaskedMatrix(X_sh) if full_batch else None
    steps = list(batch_schedule(n, config.batch_size, config.epochs, config.random_state))
    bounds = layer_bounds(spec, session.encoder.max_abs)
    f = session.encoder.fractional_bits
    checks = {"count": 0, "bytes": 0, "rounds": 0}
    logging = {"bytes": 0, "rounds": 0}
    loss_history: list[float] = []
    loss_epochs: list[int] = []
    epoch_loss: SharedTensor | None = None
    setup = ledger.snapshot()
    loop_start = time.perf_counter()
    every = int(range_check_every)
    for step, (epoch, rows) in enumerate(steps):
        x_batch = X_sh if full_batch else X_sh[rows]
        inputs, saved, scores = [x_batch], [], []
        for index, (W, b) in enumerate(layers):
            z = (masked.matmul(W) if index == 0 and masked is not None else (inputs[-1] @ W)) + b
            scores.append(z)
            if index < spec.n_layers - 1:
                h, keep = _activate(spec, z)
                inputs.append(h)
                saved.append(keep)
        if every and ((step + 1) % every == 0 or step == len(steps) - 1):
            mark = ledger.snapshot()
            flags = [any_outside(z, bound) for z, bound in zip(scores, bounds)]
            stacked = SharedTensor(session, [np.stack([fl.shares[i] for fl in flags]) for i in range(len(session.local))], 0)
            outside = stacked.reveal()  # one bit per layer, to every party
            checks["count"] += 1
            checks["bytes"] += ledger.bytes_sent - mark["bytes_sent"]
            checks["rounds"] += ledger.rounds - mark["rounds"]
            if np.any(outside):
                layer = int(np.argmax(outside)) + 1
                raise PrecisionError(
                    f"training diverged by step {step}: the secure range check found a pre-activation of layer {layer} "
                    f"at |z| >= {bounds[layer - 1]:g} (one bit per layer was revealed). Lower learning_rate "
                    f"(now {config.learning_rate:.4g}), standardise the features, or add an l2 penalty (alpha)"
                )
        output = _output(spec, scores[-1])
        y_batch = Y_sh if full_batch else Y_sh[rows]
        error = output - _same_scale(y_batch, output.scale_bits)
        if config.log_every and epoch % config.log_every == 0:
            mark = ledger.snapshot()
            squared = (error * error).sum()
            epoch_loss = squared if epoch_loss is None else epoch_loss + squared
            logging["bytes"] += ledger.bytes_sent - mark["bytes_sent"]
            logging["rounds"] += ledger.rounds - mark["rounds"]
        updates: list[tuple[SharedTensor, SharedTensor]] = []
        for index in range(spec.n_layers - 1, -1, -1):
            W, _ = layers[index]
            bias_gradient = error.sum(axis=0)
            if index == 0:
                gradient = (masked.matmul(error, transpose=True) if masked is not None
                            else matmuls([(inputs[0].T, error)])[0])
            else:
                gradient, back = matmuls([(inputs[index].T, error), (error, W.T)])
                error = _backward_through(spec, back, saved[index - 1])
            updates.append((gradient, bias_gradient))
        updates.reverse()
        rate = config.learning_rate / len(rows)
        decay = config.learning_rate * config.alpha
        terms, factors = [], []
        for (W, _), (gradient, bias_gradient) in zip(layers, updates):
            terms += [gradient, bias_gradient] + ([W] if decay else [])
            factors += [rate, rate] + ([decay] if decay else [])
        scaled = scale_many(terms, factors)  # one truncation for every update
        position, new_layers = 0, []
        for W, b in layers:
            step_w, step_b = scaled[position], scaled[position + 1]
            position += 2
            if decay:
                step_w = step_w + scaled[position]
                position += 1
            new_layers.append((W - step_w, b - step_b))
        layers = new_layers
        last_of_epoch = step + 1 == len(steps) or steps[step + 1][0] != epoch
        if last_of_epoch and epoch_loss is not None:
            mark = ledger.snapshot()
            loss_history.append(float(epoch_loss.reveal()) / n)  # one scalar, to every party
            loss_epochs.append(epoch)
            logging["bytes"] += ledger.bytes_sent - mark["bytes_sent"]
            logging["rounds"] += ledger.rounds - mark["rounds"]
            epoch_loss = None
        if on_step is not None:
            on_step(step + 1, len(steps))
    loop_seconds = time.perf_counter() - loop_start
    loop = ledger.snapshot()
    revealed = [(W.reveal(to=model_owner), b.reveal(to=model_owner)) for W, b in layers]
    overflow: HeLearnError | None = None
    weights = None
    if owns:
        weights = [(np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)) for W, b in revealed]
        if any(float(np.max(np.abs(a))) >= session.encoder.max_abs for layer in weights for a in layer):
            overflow = PrecisionError(
                f"training left the fixed-point range |x| < 2**{session.encoder.integer_bits}: the weights overflowed "
                "(lower learning_rate or standardise the features)"
            )
    session.comm.agree(session.parties, model_owner, overflow)
    after = ledger.snapshot()
    epochs, n_steps = config.epochs, len(steps)
    loop_bytes = loop["bytes_sent"] - setup["bytes_sent"] - checks["bytes"] - logging["bytes"]
    report: dict[str, Any] = {
        "seconds": time.perf_counter() - start,
        "seconds_per_iter": loop_seconds / n_steps,
        "seconds_per_epoch": loop_seconds / epochs,
        "setup_seconds": loop_start - start,
        "bytes_sent": after["bytes_sent"] - before["bytes_sent"],
        "bytes_per_epoch": loop_bytes / epochs,
        "dealer_bytes": after["dealer_bytes"] - before["dealer_bytes"],
        "dealer_bytes_per_epoch": (loop["dealer_bytes"] - setup["dealer_bytes"]) / epochs,
        "rounds": after["rounds"] - before["rounds"],
        "rounds_per_step": (loop["rounds"] - setup["rounds"] - checks["rounds"] - logging["rounds"]) / n_steps,
        "refreshes": 0,
        "loss_history": loss_history,
        "loss_epochs": loss_epochs,
        "n_iter": n_steps,
        "n_steps": n_steps,
        "epochs": epochs,
        "batch_size": int(min(config.batch_size, n)),
        "range_checks": checks["count"],
        "range_check_bytes": checks["bytes"],
        "range_check_rounds": checks["rounds"],
        "logging_bytes": logging["bytes"],
        "n_parties": session.n_parties,
        "local_parties": list(session.local),
        "n_samples": n,
        "layer_sizes": list(spec.layer_sizes),
        "fractional_bits": f,
    }
    return weights, report
