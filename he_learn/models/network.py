"""A small fully connected network: its architecture, public initialisation, public batch
order, fixed-point range check and the plaintext reference training.

Threat model: everything here is public or plaintext. The architecture, the
hyper-parameters, the initial weights (Glorot uniform from ``random_state``)
and the batch order (a permutation per epoch from ``random_state``) are public:
every party computes them itself, so the shared training needs no
communication to agree on them. :func:`train_plain` is the reference: the
secret-shared training (:mod:`he_learn.models.mlp_training`) runs the very same
steps on shares, so the two differ only by the fixed-point error.

One SGD step on a batch of B rows (identical on every backend)::

    H_0 = X_b
    Z_l = H_(l-1) @ W_l + b_l,   H_l = act(Z_l)          hidden layers l = 1..L-1
    Z_L = H_(L-1) @ W_L + b_L,   P = out(Z_L)            identity | sigmoid~ | softmax~
    D_L = P - Y_b                                         (the cross-entropy's or squared loss's gradient, times B)
    for l = L..1:
        G_l = H_(l-1).T @ D_l,   g_l = sum of D_l's rows
        D_(l-1) = (D_l @ W_l.T) * act'(Z_(l-1))           (with W_l before its update)
        W_l -= (lr / B) G_l + lr * alpha * W_l,   b_l -= (lr / B) g_l

Activations: ``"relu"`` (secure comparison on shares; its derivative is the
comparison bit), ``"poly2"`` (:func:`~he_learn.approximations.relu_least_squares`,
what CKKS inference evaluates), ``"square"`` (x^2).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from he_learn.approximations import (
    SQUARE,
    PolynomialApproximation,
    SoftmaxApproximation,
    relu,
    relu_least_squares,
)
from he_learn.encoding.fixed_point import FixedPointEncoder
from he_learn.models._validation import check_choice
from he_learn.errors import ParameterError, PrecisionError
from he_learn.models.plain_backend import activation_function

__all__ = [
    "ACTIVATIONS",
    "OUTPUTS",
    "NetworkSpec",
    "SgdConfig",
    "Layer",
    "hidden_polynomial",
    "initial_weights",
    "batch_schedule",
    "forward_bounds",
    "check_fixed_point_range",
    "train_plain",
    "forward_plain",
    "RANGE_FRACTION",
]

ACTIVATIONS = ("relu", "poly2", "square")
OUTPUTS = ("identity", "sigmoid", "softmax")
# Every value of the forward pass may use half the fixed-point range at
# initialisation (the rest is headroom for training to move in).
RANGE_FRACTION = 0.5

Layer = tuple[np.ndarray, np.ndarray]  # (W (fan_in, fan_out), b (fan_out,))


def hidden_polynomial(activation: str) -> PolynomialApproximation | None:
    """The polynomial behind a hidden activation (``None`` for ReLU)."""
    if activation == "poly2":
        return relu_least_squares(2)
    if activation == "square":
        return SQUARE
    if activation == "relu":
        return None
    raise ParameterError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")


@dataclass(frozen=True)
class NetworkSpec:
    """Layer sizes ``(n_in, hidden..., n_out)``, the hidden activation and the output.

    ``sigmoid`` is the output's stand-in for ``output="sigmoid"`` (a polynomial,
    ``"piecewise"`` or ``"exact"``), ``softmax`` for ``output="softmax"``.
    """

    layer_sizes: tuple[int, ...]
    activation: str = "relu"
    output: str = "identity"
    sigmoid: PolynomialApproximation | str = "piecewise"
    softmax: SoftmaxApproximation | str = "exact"

    def __post_init__(self) -> None:
        sizes = self.layer_sizes
        if len(sizes) < 3 or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes):
            raise ParameterError(f"layer_sizes must be (n_in, hidden..., n_out) of positive ints with a hidden layer, "
                                 f"not {sizes!r}")
        hidden_polynomial(self.activation)
        check_choice(self.output, OUTPUTS, "output")
        if self.output == "softmax" and sizes[-1] < 2:
            raise ParameterError("a softmax output needs at least 2 units")

    @property
    def n_layers(self) -> int:
        return len(self.layer_sizes) - 1

    @property
    def n_hidden(self) -> int:
        return len(self.layer_sizes) - 2

    def polynomial(self) -> PolynomialApproximation | None:
        return hidden_polynomial(self.activation)


@dataclass(frozen=True)
class SgdConfig:
    """Minibatch SGD: ``epochs`` passes over the data in batches of ``batch_size``
    (the last batch of an epoch may be smaller), step ``learning_rate``, l2
    penalty ``alpha``; ``random_state`` seeds the public initialisation and batch
    order; the loss is revealed every ``log_every`` epochs (0: never)."""

    epochs: int
    batch_size: int
    learning_rate: float
    alpha: float = 0.0
    random_state: int = 0
    log_every: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ParameterError(f"{name} must be a positive integer, not {value!r}")
        if not (np.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ParameterError(f"learning_rate must be a positive finite number, not {self.learning_rate!r}")
        if not (np.isfinite(self.alpha) and self.alpha >= 0):
            raise ParameterError(f"alpha must be a non-negative finite number, not {self.alpha!r}")
        if isinstance(self.random_state, bool) or not isinstance(self.random_state, (int, np.integer)) or self.random_state < 0:
            raise ParameterError(f"random_state must be a non-negative integer, not {self.random_state!r}")
        if isinstance(self.log_every, bool) or not isinstance(self.log_every, (int, np.integer)) or self.log_every < 0:
            raise ParameterError(f"log_every must be a non-negative integer, not {self.log_every!r}")


def initial_weights(spec: NetworkSpec, random_state: int) -> list[Layer]:
    """Glorot-uniform weights and biases (Glorot and Bengio, AISTATS 2010), as
    scikit-learn's MLP draws them: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)),
    sqrt(2 / ...) for a sigmoid output layer. Public: seeded by ``random_state``."""
    rng = np.random.default_rng([int(random_state), 0])
    layers = []
    for index, (fan_in, fan_out) in enumerate(zip(spec.layer_sizes[:-1], spec.layer_sizes[1:])):
        factor = 2.0 if spec.output == "sigmoid" and index == spec.n_layers - 1 else 6.0
        bound = np.sqrt(factor / (fan_in + fan_out))
        layers.append((rng.uniform(-bound, bound, (fan_in, fan_out)), rng.uniform(-bound, bound, fan_out)))
    return layers


def batch_schedule(n_samples: int, batch_size: int, epochs: int, random_state: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(epoch, row indices)`` of every step: a fresh public permutation per epoch."""
    rng = np.random.default_rng([int(random_state), 1])
    for epoch in range(epochs):
        order = rng.permutation(n_samples)
        for start in range(0, n_samples, batch_size):
            yield epoch, order[start : start + batch_size]


def _activation_bound(spec: NetworkSpec, bound: float) -> float:
    poly = spec.polynomial()
    if poly is None:
        return bound
    grid = np.linspace(-bound, bound, 4001)
    return float(np.max(np.abs(poly(grid))))


def forward_bounds(spec: NetworkSpec, weights: Sequence[Layer], x_bound: float) -> list[float]:
    """Worst-case |Z_l| of every layer for inputs |x| <= ``x_bound`` (interval arithmetic)."""
    bounds, h = [], float(x_bound)
    for index, (W, b) in enumerate(weights):
        z = float(np.max(np.abs(W).sum(axis=0) * h + np.abs(b)))
        bounds.append(z)
        h = _activation_bound(spec, z) if index < len(weights) - 1 else z
    return bounds


def check_fixed_point_range(spec: NetworkSpec, weights: Sequence[Layer], x_bound: float,
                            encoder: FixedPointEncoder) -> None:
    """``PrecisionError`` before training if the initial network's forward pass could leave
    :data:`RANGE_FRACTION` of the fixed-point range on inputs |x| <= ``x_bound``.

    A polynomial activation squares the bound at every layer, so a deep network
    of them overflows the ring even when each layer alone is fine; naming the
    layer and the remedies here beats garbage from a wrapped ring element later."""
    limit = RANGE_FRACTION * encoder.max_abs
    for index, bound in enumerate(forward_bounds(spec, weights, x_bound)):
        if not np.isfinite(bound) or bound >= limit:
            raise PrecisionError(
                f"the network is too deep for the fixed-point range: with inputs up to |x| = {x_bound:.3g}, layer "
                f"{index + 1} of {spec.n_layers} ({spec.activation} activations) can reach {bound:.3g} at its "
                f"initial weights, beyond {limit:.3g} (half of 2**{encoder.integer_bits}). Use fewer hidden layers, "
                "activation='relu' (its bound grows linearly, a polynomial's doubly exponentially), standardise "
                "or scale down the features, or fewer fractional bits (backend_options fractional_bits) for more "
                "integer bits"
            )


def _output(spec: NetworkSpec, z: np.ndarray) -> np.ndarray:
    if spec.output == "identity":
        return z
    if spec.output == "sigmoid":
        return activation_function(spec.sigmoid)(z)
    if isinstance(spec.softmax, SoftmaxApproximation):
        return spec.softmax(z)
    from he_learn.approximations import softmax

    return softmax(z)


def _activate(spec: NetworkSpec, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """H = act(Z) and act'(Z)."""
    poly = spec.polynomial()
    if poly is None:
        return relu(z), (z >= 0).astype(np.float64)
    c = poly.coefficients
    return poly(z), c[1] + 2.0 * c[2] * z


def forward_plain(spec: NetworkSpec, weights: Sequence[Layer], X: np.ndarray) -> np.ndarray:
    """The output scores Z_L (before ``out``) of the network on plaintext X."""
    h = np.asarray(X, dtype=np.float64)
    for index, (W, b) in enumerate(weights):
        z = h @ W + b
        h = _activate(spec, z)[0] if index < len(weights) - 1 else z
    return h


def train_plain(
    spec: NetworkSpec, config: SgdConfig, X: np.ndarray, Y: np.ndarray,
    on_step: Callable[[int, int], None] | None = None,
) -> tuple[list[Layer], dict[str, Any]]:
    """The reference training in float64 (module docstring); returns the weights and a report."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64).reshape(X.shape[0], -1)
    weights = [(W.copy(), b.copy()) for W, b in initial_weights(spec, config.random_state)]
    steps = list(batch_schedule(X.shape[0], config.batch_size, config.epochs, config.random_state))
    loss_history, loss_epochs, epoch_loss = [], [], 0.0
    start = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"):
        for step, (epoch, rows) in enumerate(steps):
            inputs, derivatives = [X[rows]], []
            for index, (W, b) in enumerate(weights):
                z = inputs[-1] @ W + b
                if index < len(weights) - 1:
                    h, d = _activate(spec, z)
                    inputs.append(h)
                    derivatives.append(d)
            delta = _output(spec, z) - Y[rows]
            epoch_loss += float(np.sum(delta * delta))
            rate = config.learning_rate / len(rows)
            for index in range(len(weights) - 1, -1, -1):
                W, b = weights[index]
                gradient, bias_gradient = inputs[index].T @ delta, delta.sum(axis=0)
                if index:
                    delta = (delta @ W.T) * derivatives[index - 1]
                weights[index] = (W - rate * gradient - config.learning_rate * config.alpha * W, b - rate * bias_gradient)
            if not all(np.all(np.isfinite(W)) for W, _ in weights):
                raise PrecisionError(f"training diverged at step {step}: the weights overflowed; lower learning_rate")
            last_of_epoch = step + 1 == len(steps) or steps[step + 1][0] != epoch
            if last_of_epoch:
                if config.log_every and epoch % config.log_every == 0:
                    loss_history.append(epoch_loss / X.shape[0])
                    loss_epochs.append(epoch)
                epoch_loss = 0.0
            if on_step is not None:
                on_step(step + 1, len(steps))
    seconds = time.perf_counter() - start
    report = {"seconds": seconds, "seconds_per_epoch": seconds / config.epochs, "seconds_per_iter": seconds / len(steps),
              "bytes_sent": 0, "rounds": 0, "refreshes": 0, "loss_history": loss_history, "loss_epochs": loss_epochs,
              "n_iter": len(steps), "n_steps": len(steps), "epochs": config.epochs}
    return weights, report
