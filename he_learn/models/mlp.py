"""MLPClassifier and MLPRegressor: small networks trained by minibatch SGD, on plaintext or on shares.

``backend="plain"`` runs :func:`he_learn.models.network.train_plain`;
``backend="smpc"`` runs the very same steps on secret shares
(:mod:`he_learn.models.mlp_training`, whose docstring lists everything
training reveals, the loss included). CKKS does not train networks; a network
trained with a polynomial activation (``"poly2"`` or ``"square"``, the only
kind CKKS can evaluate) runs on encrypted features through
:meth:`encrypted_network` and :class:`he_learn.he.network_inference.NetworkEvaluator`.

Parameters follow scikit-learn's MLP where they mean the same thing
(``hidden_layer_sizes``, ``activation``, ``alpha``, ``batch_size``,
``learning_rate_init``, ``max_iter`` counted in epochs, ``random_state``) and
the fitted attributes too (``coefs_``, ``intercepts_``, ``classes_``,
``loss_curve_``, ``n_iter_``, ``out_activation_``). The optimiser is plain SGD
(no momentum, no Adam: its square root and division would cost more rounds
than the rest of a step), and ``random_state`` is public: it fixes the
initial weights and the batch order that every party derives for itself.
"""

from __future__ import annotations

import numbers
import secrets
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets

from he_learn.approximations import SIGMOID_CHOICES, SOFTMAX_CHOICES, resolve_sigmoid, resolve_softmax
from he_learn.approximations import sigmoid as exact_sigmoid
from he_learn.approximations import softmax as exact_softmax
from he_learn.errors import ParameterError
from he_learn.he.network_inference import PlainNetwork
from he_learn.models._validation import (
    check_choice,
    not_fitted,
    validate_fit_data,
    validate_numeric_target,
    validate_predict_data,
)
from he_learn.models.network import ACTIVATIONS, NetworkSpec, SgdConfig, forward_plain, hidden_polynomial, train_plain
from he_learn.models.progress import TrainingProgress, validate_progress

__all__ = ["MLPClassifier", "MLPRegressor", "MLP_BACKENDS"]

MLP_BACKENDS = ("plain", "smpc")


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ParameterError(f"{name} must be a positive integer, not {value!r}")
    return int(value)


class _Network(BaseEstimator):
    """What both estimators share: parameter checks, training on a backend, the forward pass."""

    _output = "identity"

    def _check_params(self) -> None:
        for name in ("coefs_", "intercepts_", "classes_", "training_report_", "loss_curve_", "n_iter_"):
            self.__dict__.pop(name, None)
        if self.backend not in MLP_BACKENDS:
            extra = (" CKKS cannot train a network; train one with activation='poly2' or 'square' and evaluate it on "
                     "encrypted features through encrypted_network()") if self.backend == "ckks" else ""
            raise ParameterError(f"an MLP trains on backend 'plain' or 'smpc', not {self.backend!r}.{extra}")
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if isinstance(sizes, numbers.Integral) else tuple(sizes)
        if not sizes:
            raise ParameterError("hidden_layer_sizes needs at least one hidden layer")
        for size in sizes:
            _positive_int(size, "each hidden layer size")
        check_choice(self.activation, ACTIVATIONS, "activation")
        _positive_int(self.max_iter, "max_iter")
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            _positive_int(self.batch_size, "batch_size")
        for name in ("learning_rate_init", "alpha"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0 or (
                name == "learning_rate_init" and value == 0
            ):
                raise ParameterError(f"{name} must be a {'positive' if name == 'learning_rate_init' else 'non-negative'}"
                                     f" finite number, not {value!r}")
        if self.random_state is not None:
            if isinstance(self.random_state, bool) or not isinstance(self.random_state, numbers.Integral) or self.random_state < 0:
                raise ParameterError(f"random_state must be a non-negative integer or None, not {self.random_state!r}")
        if isinstance(self.log_every, bool) or not isinstance(self.log_every, numbers.Integral) or self.log_every < 0:
            raise ParameterError(f"log_every must be a non-negative integer, not {self.log_every!r}")
        validate_progress(self.progress)
        if self.backend_options is not None and not isinstance(self.backend_options, dict):
            raise ParameterError("backend_options must be a dict or None")

    def _hidden(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        return (int(sizes),) if isinstance(sizes, numbers.Integral) else tuple(int(s) for s in sizes)

    def network_spec(self, n_in: int, n_out: int) -> NetworkSpec:
        """The architecture this estimator trains for ``n_in`` features and ``n_out`` outputs."""
        output = self._output if n_out > 1 or self._output != "softmax" else "sigmoid"
        return NetworkSpec((n_in, *self._hidden(), n_out), self.activation, output,
                           resolve_sigmoid(getattr(self, "sigmoid", "piecewise")),
                           resolve_softmax(getattr(self, "softmax", "exact")))

    def sgd_config(self, n_samples: int, random_state: int) -> SgdConfig:
        batch = min(200, n_samples) if self.batch_size == "auto" else int(self.batch_size)
        return SgdConfig(epochs=int(self.max_iter), batch_size=batch, learning_rate=float(self.learning_rate_init),
                         alpha=float(self.alpha), random_state=random_state, log_every=int(self.log_every))

    def public_seed(self) -> int:
        """``random_state``, or a fresh one (public all the same: it fixes the initial weights)."""
        return int(self.random_state) if self.random_state is not None else secrets.randbits(31)

    def _fit_network(self, X: np.ndarray, Y: np.ndarray) -> None:
        spec = self.network_spec(X.shape[1], Y.shape[1])
        config = self.sgd_config(X.shape[0], self.public_seed())
        description = f"{type(self).__name__}[{self.backend}]"
        with TrainingProgress(self.progress, description) as progress:
            if self.backend == "plain":
                if self.backend_options:
                    raise ParameterError(f"the plain backend takes no options, got {', '.join(sorted(self.backend_options))}")
                weights, report = train_plain(spec, config, X, Y, on_step=progress)
            else:
                from he_learn.models.mlp_training import train_network_on_shares
                from he_learn.models.smpc_backend import TRAINING_LABEL, make_backend

                options = make_backend(**(self.backend_options or {})).options
                weights, report = train_network_on_shares(
                    options.session(TRAINING_LABEL), spec, config, X, Y,
                    range_check_every=int(options.range_check_every), on_step=progress,
                )
        self.adopt_network(weights, report, spec)

    def adopt_network(self, weights: Any, report: dict[str, Any], spec: NetworkSpec) -> None:
        """Set the fitted attributes from trained ``(W, b)`` layers (a job's model owner calls this)."""
        self.coefs_ = [np.asarray(W, dtype=np.float64) for W, _ in weights]
        self.intercepts_ = [np.asarray(b, dtype=np.float64) for _, b in weights]
        self.n_layers_ = spec.n_layers + 1
        self.n_outputs_ = spec.layer_sizes[-1]
        self.out_activation_ = {"identity": "identity", "sigmoid": "logistic", "softmax": "softmax"}[spec.output]
        self.training_report_ = {**report, "backend": self.backend}
        self.loss_curve_ = list(report.get("loss_history", []))
        self.n_iter_ = int(report.get("epochs", self.max_iter))
        self.t_ = int(report.get("n_steps", 0))

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "coefs_")

    def _scores(self, X: Any) -> np.ndarray:
        if not hasattr(self, "coefs_"):
            raise not_fitted(self)
        X = validate_predict_data(self, X)
        spec = NetworkSpec((X.shape[1], *[W.shape[1] for W in self.coefs_]), self.activation)
        return forward_plain(spec, list(zip(self.coefs_, self.intercepts_)), X)

    def encrypted_network(self) -> PlainNetwork:
        """The fitted network for encrypted inference under CKKS
        (:class:`~he_learn.he.network_inference.NetworkEvaluator`): the model owner
        evaluates it on a key holder's encrypted features, which decrypts the scores."""
        if not hasattr(self, "coefs_"):
            raise not_fitted(self)
        if self.activation == "relu":
            raise ParameterError(
                "a ReLU network has no polynomial form for CKKS: train it with activation='poly2' or 'square' "
                "for encrypted inference"
            )
        return PlainNetwork(tuple(self.coefs_), tuple(np.asarray(b) for b in self.intercepts_),
                            hidden_polynomial(self.activation))

    def to_torch(self, dtype: Any = None) -> Any:
        """The network as ``torch.nn.Sequential`` with the same weights; it outputs the
        scores (apply ``torch.sigmoid`` / ``torch.softmax`` for probabilities)."""
        from he_learn.models.torch_interop import sequential_module

        if not hasattr(self, "coefs_"):
            raise not_fitted(self)
        return sequential_module(self.coefs_, self.intercepts_, hidden_polynomial(self.activation), dtype=dtype)


_PARAMS_DOC = """
    Parameters
    ----------
    hidden_layer_sizes : tuple of int
        Units per hidden layer (one or two layers is what the engines are tuned for).
    activation : "relu", "poly2" or "square"
        Hidden activation: ReLU (a secure comparison on shares), the degree-2
        least-squares ReLU on [-4, 4], or x^2.
    backend : "plain" or "smpc"
    max_iter : int
        Epochs (passes over the data), as in scikit-learn.
    batch_size : int or "auto"
        Rows per SGD step ("auto": min(200, n)); the batch order is public.
    learning_rate_init, alpha : float
        SGD step and l2 penalty.
    random_state : int or None
        Public seed of the initial weights and the batch order (None: a fresh one).
    log_every : int
        Reveal the epoch's loss every this many epochs (0: never); ``loss_curve_``.
    progress, backend_options : as for the linear models.
"""


class MLPClassifier(ClassifierMixin, _Network):
    __doc__ = ("Classifier network: a sigmoid output for two classes, softmax for more.\n" + _PARAMS_DOC + """
    sigmoid : the binary output's stand-in ("piecewise", the hard sigmoid, by default; or a polynomial).
    softmax : the multiclass output's stand-in ("limit8" by default).
    """)

    _output = "softmax"

    def __init__(self, hidden_layer_sizes: Any = (16,), activation: str = "relu", backend: str = "plain",
                 max_iter: int = 200, batch_size: Any = 32, learning_rate_init: float = 0.1, alpha: float = 1e-4,
                 random_state: int | None = None, log_every: int = 0, sigmoid: str = "piecewise",
                 softmax: str = "limit8", progress: Any = "auto", backend_options: dict | None = None) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.backend = backend
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.alpha = alpha
        self.random_state = random_state
        self.log_every = log_every
        self.sigmoid = sigmoid
        self.softmax = softmax
        self.progress = progress
        self.backend_options = backend_options

    def _check_params(self) -> None:
        super()._check_params()
        check_choice(self.sigmoid, SIGMOID_CHOICES, "sigmoid")
        check_choice(self.softmax, SOFTMAX_CHOICES, "softmax")

    def fit(self, X: Any, y: Any) -> "MLPClassifier":
        self._fit_network(*self.training_data(X, y))
        return self

    def training_data(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Checked parameters, validated X and the targets Y: (n, 1) for two classes,
        one-hot (n, K) for more; sets ``classes_`` (a job's data owner calls this)."""
        self._check_params()
        X, y = validate_fit_data(self, X, y)
        try:
            check_classification_targets(y)
        except ValueError as exc:
            raise ParameterError(str(exc)) from exc
        classes, encoded = np.unique(y, return_inverse=True)
        if classes.shape[0] < 2:
            raise ParameterError(f"MLPClassifier needs at least 2 classes in y, found {classes.shape[0]} class")
        self.classes_ = classes
        Y = encoded.reshape(-1, 1).astype(np.float64) if classes.shape[0] == 2 else np.eye(classes.shape[0])[encoded]
        return X, Y

    @staticmethod
    def n_outputs_for(n_classes: int) -> int:
        """Output units for ``n_classes`` (one sigmoid for two, a softmax over K otherwise)."""
        return 1 if n_classes == 2 else int(n_classes)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities: the exact sigmoid or softmax of the decrypted network's scores."""
        scores = self._scores(X)
        if scores.shape[1] == 1:
            positive = exact_sigmoid(scores[:, 0])
            return np.column_stack([1.0 - positive, positive])
        return exact_softmax(scores)

    def predict(self, X: Any) -> np.ndarray:
        scores = self._scores(X)
        index = (scores[:, 0] > 0).astype(np.intp) if scores.shape[1] == 1 else np.argmax(scores, axis=1)
        return self.classes_[index]


class MLPRegressor(RegressorMixin, _Network):
    __doc__ = "Regression network with an identity output and the squared loss.\n" + _PARAMS_DOC

    _output = "identity"

    def __init__(self, hidden_layer_sizes: Any = (16,), activation: str = "relu", backend: str = "plain",
                 max_iter: int = 200, batch_size: Any = 32, learning_rate_init: float = 0.01, alpha: float = 1e-4,
                 random_state: int | None = None, log_every: int = 0, progress: Any = "auto",
                 backend_options: dict | None = None) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.backend = backend
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.alpha = alpha
        self.random_state = random_state
        self.log_every = log_every
        self.progress = progress
        self.backend_options = backend_options

    def fit(self, X: Any, y: Any) -> "MLPRegressor":
        self._fit_network(*self.training_data(X, y))
        return self

    def training_data(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Checked parameters, validated X and y as an (n, 1) target."""
        self._check_params()
        X, y = validate_fit_data(self, X, y)
        return X, validate_numeric_target(y).reshape(-1, 1)

    def predict(self, X: Any) -> np.ndarray:
        return self._scores(X)[:, 0]
