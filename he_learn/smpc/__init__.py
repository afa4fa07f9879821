"""The SMPC engine: additive secret sharing over Z_2^64 with a dealer.

Threat model: n >= 2 honest-but-curious parties that do not collude, and a
dealer (the "crypto provider") that hands out input-independent correlated
randomness, never sees inputs and colludes with nobody. Any n - 1 parties learn
nothing about a shared value; only explicitly revealed values become public.
Not covered: malicious (deviating) parties, collusion, side channels.

Modules in dependency order (imports only point down the list)::

    ledger       byte and round counters
    transport    Transport protocol + in-process implementation (counts into the ledger)
    dealer       TripleProvider protocol + TrustedDealer (seeded shares, corrections)
    session      Session: named parties, dealer, transport, encoder; passed explicitly
    shapes       broadcasting and matmul shape rules
    public_operands  encoding public multipliers so no product with a shared value wraps
    protocols    share-level opening, Beaver mul/matmul, dealer-assisted truncation
    shared       SharedTensor and share()
    masked       MaskedMatrix: one Beaver mask reused for a fixed matrix
    comparison   ge_zero, sign, relu, abs_, greater_than, less_than, any_outside (one-bit range check)
    activations  polynomial and piecewise sigmoid on shares
    toy          the original numpy toy over Z_Q
"""

from __future__ import annotations

from he_learn.smpc.activations import hard_sigmoid, polynomial, sigmoid
from he_learn.smpc.comparison import abs_, ge_zero, greater_than, less_than, relu, sign
from he_learn.smpc.dealer import TripleProvider, TrustedDealer
from he_learn.smpc.ledger import Ledger
from he_learn.smpc.masked import MaskedMatrix
from he_learn.smpc.session import Party, Session, party_names
from he_learn.smpc.shared import SharedTensor, share
from he_learn.smpc.transport import InProcessTransport, Transport

__all__ = [
    "Session",
    "Party",
    "party_names",
    "SharedTensor",
    "share",
    "MaskedMatrix",
    "Ledger",
    "Transport",
    "InProcessTransport",
    "TripleProvider",
    "TrustedDealer",
    "ge_zero",
    "sign",
    "relu",
    "abs_",
    "greater_than",
    "less_than",
    "polynomial",
    "hard_sigmoid",
    "sigmoid",
]
