"""The SPMD entry point of one process of an SMPC job.

Threat model: as :mod:`he_learn.smpc.session`. Every process of a job calls
:func:`run_party` with the same ``parties`` and the same function: a process
that runs the dealer serves correlated randomness until every party has said
goodbye; a process that runs parties runs the function (which builds its
sessions on ``comm``) and then says goodbye. In-process, where every role is
local, the function just runs: its sessions use an in-process dealer.
"""

from __future__ import annotations

from typing import Callable, Sequence, TypeVar

from he_learn._native.seeds import InsecureSeed
from he_learn.comm.communicator import Communicator
from he_learn.smpc.dealer_service import DEALER, serve_dealer

__all__ = ["run_party"]

T = TypeVar("T")


def run_party(
    comm: Communicator,
    parties: Sequence[str],
    function: Callable[[Communicator], T],
    *,
    insecure_seed: InsecureSeed | None = None,
) -> T | None:
    """Run this process's roles of an SMPC job (see the module docstring).

    Returns ``function(comm)`` in a party's process and ``None`` in the dealer's.
    ``insecure_seed`` (tests only) must be what the parties' sessions use.
    """
    local = [p for p in parties if p in comm.local_roles]
    dealer_here = DEALER in comm.local_roles
    if dealer_here and not local:
        serve_dealer(comm, parties, insecure_seed)
        return None
    result = function(comm)
    if not dealer_here:
        for party in local:
            comm.goodbye(party, DEALER)
    return result
