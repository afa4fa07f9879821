"""The SMPC engine: additive secret sharing over Z_2^64 with a dealer.

Threat model: n >= 2 honest-but-curious parties that do not collude, and a
dealer (the "crypto provider") that hands out input-independent correlated
randomness, never sees inputs and colludes with nobody. Any n - 1 parties learn
nothing about a shared value; only explicitly revealed values become public.
Not covered: malicious (deviating) parties, collusion, side channels. The
parties and the dealer run in one process, one thread each, or one process each
(:mod:`he_learn.comm`): the protocol code is the same SPMD code everywhere.

Modules in dependency order (imports only point down the list)::

    dealer          TripleProvider protocol + TrustedDealer (seeded shares, corrections)
    dealer_service  typed dealer requests, their validation, the dealer's service loop
    session         Session: named parties, local parties, dealer, communicator, encoder
    shapes          broadcasting and matmul shape rules
    public_operands encoding public operands so no product with a shared value wraps
    protocols       share-level opening, reveal, Beaver mul/matmul, dealer-assisted truncation
    comparison      share-level [x >= 0] and the one-bit range check
    shared          SharedTensor and share()
    masked          MaskedMatrix: one Beaver mask reused for a fixed matrix
    nonlinear       ge_zero, sign, relu, abs_, greater_than, less_than, any_outside
    activations     polynomial and piecewise sigmoid on shares
    bitwise         the bit-sliced comparison: XOR-shared mask words, AND triples, ReLU and its bits
    rectifier       ReLU, maximum and the hard sigmoid on shared tensors, through bitwise
    softmax         exp (limit approximation), Newton reciprocal, softmax at 30 fractional bits
    runtime         run_party: one process's part of an SMPC job
    toy             the original numpy toy over Z_Q
"""

from __future__ import annotations

from he_learn.smpc.activations import hard_sigmoid, polynomial, sigmoid
from he_learn.smpc.dealer import TripleProvider, TrustedDealer
from he_learn.smpc.dealer_service import DEALER, serve_dealer
from he_learn.smpc.masked import MaskedMatrix
from he_learn.smpc.nonlinear import abs_, any_outside, ge_zero, greater_than, less_than, relu, sign
from he_learn.smpc.runtime import run_party
from he_learn.smpc.session import Session, party_names
from he_learn.smpc.shared import SharedTensor, share

__all__ = [
    "Session",
    "party_names",
    "SharedTensor",
    "share",
    "MaskedMatrix",
    "TripleProvider",
    "TrustedDealer",
    "DEALER",
    "serve_dealer",
    "run_party",
    "ge_zero",
    "sign",
    "relu",
    "abs_",
    "greater_than",
    "less_than",
    "any_outside",
    "polynomial",
    "hard_sigmoid",
    "sigmoid",
]
