"""Releasing trained weights to the trainer (``model_to="trainer"``): noise-flooded.

Threat model (docs/design.md, "CKKS roles", "What leaves the key holder"): the
trainer computed the final weights ciphertext and is honest-but-curious; an
exact decryption of it would give the secret key away (Li and Micciancio 2021;
``tests/he/test_training_release_attack.py`` runs the attack). The key holder
sees the weights only masked, w + m, as in a refresh.

The masked weights go through :func:`he_learn.he.release.release`. Its error
bound is calibrated on the run's own weight refreshes: ``TAIL_FACTOR`` times
the largest RMS of their imaginary parts (pure error for real weights) times
:data:`CALIBRATION_MARGIN`, rounded up to a quarter bit, so the noise level
depends on no released ciphertext and reveals only the size of earlier errors,
to a quarter bit. The release then checks the final ciphertext against that
bound (``SecurityError`` if it is exceeded).
The key of a run releases once, so its budget is the weights' slots of its K
outputs (``V = K * d * group``, :data:`RELEASE_SECURITY_BITS` = 30 bits): the flooding std
is ``2^15 * sqrt(V / 2)`` times the bound, reduced by ``sqrt(group)`` when the
trainer averages each weight's copies. Only presets with a large scale at every
level leave room for that ('training-release', 2^40): before anything is
encrypted, a run whose flooding would exceed :data:`MAX_RELEASED_WEIGHT_STD`
per weight even for a fresh encryption's error is refused (``PrecisionError``).
What the flooding bounds: the release's KL divergence from an ideal release
without the final ciphertext's error, 2^-30. The errors of earlier weights
ciphertexts are part of the messages the refreshes re-encrypted, and the final
release shows them behind the same noise: the report's
``release_chain_security_bits`` bounds them by the same KL rule with their
bounds summed (an error never grows through later steps of a converging
descent; the sum is the worst case). It falls by 2 log2(T) for T refreshes
(docs/design.md, "What leaves the key holder").
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.errors import PrecisionError
from he_learn.he.ciphertext import CkksCiphertext
from he_learn.he.flooding import FloodingPolicy
from he_learn.he.keys import KeyHolder
from he_learn.he.presets import TRAINING_RELEASE, CkksParameters
from he_learn.he.release import TAIL_FACTOR, fresh_sum_error_bound, release

__all__ = [
    "WeightsRelease",
    "release_policy",
    "RELEASE_SECURITY_BITS",
    "MAX_RELEASED_WEIGHT_STD",
    "release_preset",
    "released_weight_std",
    "released_weight_std_floor",
]

# Statistical security of the weights' release (he_learn.he.flooding's floor).
RELEASE_SECURITY_BITS = 30
# The largest flooding std per released weight (after averaging its copies)
# that still leaves a model: weights of standardised features are O(0.1..1).
MAX_RELEASED_WEIGHT_STD = 0.02
# The calibrated bound's margin over TAIL_FACTOR times the refreshes' error RMS:
# the final weights' RMS was within 1% of the last refresh's (measured).
CALIBRATION_MARGIN = 1.25


def release_preset(objective: str) -> CkksParameters:
    """The preset for ``model_to="trainer"`` (module doc): 'training-release'."""
    return TRAINING_RELEASE


def release_policy(layout: FeatureMajorLayout, outputs: int = 1) -> FloodingPolicy:
    """A run's key releases the weights' slots of its ``outputs`` once, at :data:`RELEASE_SECURITY_BITS`."""
    return FloodingPolicy(RELEASE_SECURITY_BITS, outputs * int(layout.weight_slots.size))


def _kl_bits(n_values: int, errors: list[float], sigma: float) -> float:
    """-log2 of the KL divergence ``sum_k n e_k^2 / (2 sigma^2)`` that ``n``
    values per error bound ``e_k`` reveal under Gaussian noise ``sigma``."""
    divergence = sum(n_values * error**2 for error in errors) / (2 * sigma**2)
    return math.inf if divergence <= 0 else -math.log2(divergence)


def released_weight_std(layout: FeatureMajorLayout, error_bound: float, policy: FloodingPolicy | None = None) -> float:
    """The flooding std per weight after averaging its ``group`` copies, under
    ``policy`` (default: a run's own, :func:`release_policy`)."""
    return (policy or release_policy(layout)).sigma(error_bound) / math.sqrt(layout.group)


def released_weight_std_floor(params: CkksParameters, layout: FeatureMajorLayout, outputs: int = 1) -> float:
    """:func:`released_weight_std` for a fresh encryption's error, the least any
    weights ciphertext carries: the check made before a run starts."""
    return released_weight_std(layout, fresh_sum_error_bound(params, 1), release_policy(layout, outputs))


def check_room(params: CkksParameters, layout: FeatureMajorLayout, outputs: int = 1) -> None:
    """Refuse, before anything is encrypted, a run whose weights the flooding would drown."""
    floor = released_weight_std_floor(params, layout, outputs)
    if floor > MAX_RELEASED_WEIGHT_STD:
        raise PrecisionError(
            f"model_to='trainer' releases the weights flooded to {RELEASE_SECURITY_BITS}-bit statistical "
            f"security; under preset {params.name!r} (scale 2^{params.scale_bits}) the flooding would add "
            f"noise of std at least {floor:.3g} to every weight. Use preset 'training-release' (the default "
            "for model_to='trainer'), or keep the model with the key holder (model_to='key_holder')"
        )


class WeightsRelease:
    """One run's weights release: calibrated on its refreshes, spent once (module doc)."""

    def __init__(self, key_holder: KeyHolder, layout: FeatureMajorLayout, outputs: int = 1) -> None:
        self._key_holder, self._layout = key_holder, layout
        self._bound: float | None = None
        # per output, the sum of every refreshed weights ciphertext's bound: their
        # errors live on in the refreshed messages, so the release shows them too
        self._chain = [0.0] * outputs
        self.report: dict[str, Any] = {}

    def calibrate(self, imaginary: np.ndarray, output: int = 0) -> None:
        """Raise the weights' error bound to what a refreshed weights ciphertext
        (of ``output``) shows: the imaginary parts of its decryption, which stays
        here (module doc)."""
        rms = max(float(np.sqrt(np.mean(imaginary**2))), np.finfo(np.float64).tiny)
        # a quarter of a bit of rounding: sigma tells nothing finer about earlier errors
        bound = 2.0 ** (math.ceil(4 * math.log2(CALIBRATION_MARGIN * TAIL_FACTOR * rms)) / 4)
        self._bound = max(bound, self._bound or 0.0)
        self._chain[output] += bound

    def release(self, values: CkksCiphertext | list[CkksCiphertext]) -> np.ndarray:
        """The masked weights' slots of every output, one after another,
        noise-flooded: the one decryption that leaves the key holder (module doc)."""
        values = [values] if isinstance(values, CkksCiphertext) else list(values)
        if len(values) != len(self._chain):
            raise PrecisionError(f"{len(values)} weights ciphertexts released for {len(self._chain)} outputs")
        bound = self._bound
        if bound is None:
            raise PrecisionError(
                "model_to='trainer': the weights' error bound is calibrated on their refreshes, and this run "
                "refreshed them never; train for more iterations (or keep the model with model_to='key_holder')"
            )
        policy = self._key_holder.release_budget.policy
        std = released_weight_std(self._layout, bound, policy)
        if std > MAX_RELEASED_WEIGHT_STD:
            raise PrecisionError(
                f"model_to='trainer': the weights' measured error bound {bound:.3g} needs flooding of std {std:.3g} "
                f"per weight, beyond {MAX_RELEASED_WEIGHT_STD}: the model would be noise. Use preset "
                "'training-release', fewer features, or keep the model with the key holder"
            )
        slots = self._layout.weight_slots
        if len(values) * slots.size > self._key_holder.release_budget.remaining:
            self._key_holder.release_budget.spend(len(values) * slots.size)  # raises before any decryption
        released = np.concatenate([release(self._key_holder, value, bound, slots=slots) for value in values])
        self.report = {
            "release_error_bound": bound,
            "release_sigma": policy.sigma(bound),
            "release_weight_std": std,
            "release_security_bits": policy.security_bits,
            "release_values": int(released.size),
            "release_chain_security_bits": _kl_bits(self._layout.weight_slots.size, self._chain,
                                                    policy.sigma(bound)),
        }
        return released
