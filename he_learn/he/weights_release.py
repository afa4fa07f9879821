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
The key of a run releases once, so its budget is the weights' slots
(``V = d * group``, :data:`RELEASE_SECURITY_BITS` = 30 bits): the flooding std
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


def release_policy(layout: FeatureMajorLayout) -> FloodingPolicy:
    """A run's key releases the weights' slots once, at :data:`RELEASE_SECURITY_BITS`."""
    return FloodingPolicy(RELEASE_SECURITY_BITS, int(layout.weight_slots.size))


def _kl_bits(n_values: int, error: float, sigma: float) -> float:
    """-log2 of the KL divergence ``n e^2 / (2 sigma^2)`` that ``n`` values
    carrying an error up to ``error`` under Gaussian noise ``sigma`` reveal."""
    if error <= 0:
        return math.inf
    return -math.log2(n_values * error**2 / (2 * sigma**2))


def released_weight_std(layout: FeatureMajorLayout, error_bound: float, policy: FloodingPolicy | None = None) -> float:
    """The flooding std per weight after averaging its ``group`` copies, under
    ``policy`` (default: a run's own, :func:`release_policy`)."""
    return (policy or release_policy(layout)).sigma(error_bound) / math.sqrt(layout.group)


def released_weight_std_floor(params: CkksParameters, layout: FeatureMajorLayout) -> float:
    """:func:`released_weight_std` for a fresh encryption's error, the least any
    weights ciphertext carries: the check made before a run starts."""
    return released_weight_std(layout, fresh_sum_error_bound(params, 1))


def check_room(params: CkksParameters, layout: FeatureMajorLayout) -> None:
    """Refuse, before anything is encrypted, a run whose weights the flooding would drown."""
    floor = released_weight_std_floor(params, layout)
    if floor > MAX_RELEASED_WEIGHT_STD:
        raise PrecisionError(
            f"model_to='trainer' releases the weights flooded to {RELEASE_SECURITY_BITS}-bit statistical "
            f"security; under preset {params.name!r} (scale 2^{params.scale_bits}) the flooding would add "
            f"noise of std at least {floor:.3g} to every weight. Use preset 'training-release' (the default "
            "for model_to='trainer'), or keep the model with the key holder (model_to='key_holder')"
        )


class WeightsRelease:
    """One run's weights release: calibrated on its refreshes, spent once (module doc)."""

    def __init__(self, key_holder: KeyHolder, layout: FeatureMajorLayout) -> None:
        self._key_holder, self._layout = key_holder, layout
        self._bound: float | None = None
        # the sum of every refreshed weights ciphertext's bound: their errors live on
        # in the refreshed messages, so the release shows them too (module doc)
        self._chain = 0.0
        self.report: dict[str, Any] = {}

    def calibrate(self, imaginary: np.ndarray) -> None:
        """Raise the weights' error bound to what a refreshed weights ciphertext
        shows: the imaginary parts of its decryption, which stays here (module doc)."""
        rms = max(float(np.sqrt(np.mean(imaginary**2))), np.finfo(np.float64).tiny)
        # a quarter of a bit of rounding: sigma tells nothing finer about earlier errors
        bound = 2.0 ** (math.ceil(4 * math.log2(CALIBRATION_MARGIN * TAIL_FACTOR * rms)) / 4)
        self._bound = max(bound, self._bound or 0.0)
        self._chain += bound

    def release(self, value: CkksCiphertext) -> np.ndarray:
        """The masked weights' slots, noise-flooded: the one decryption that leaves
        the key holder (module doc)."""
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
        released = release(self._key_holder, value, bound, slots=self._layout.weight_slots)
        self.report = {
            "release_error_bound": bound,
            "release_sigma": policy.sigma(bound),
            "release_weight_std": std,
            "release_security_bits": policy.security_bits,
            "release_values": int(self._layout.weight_slots.size),
            "release_chain_security_bits": _kl_bits(self._layout.weight_slots.size, self._chain,
                                                    policy.sigma(bound)),
        }
        return released
