"""The three communicators run the same SPMD code and agree on results and ledgers."""

from __future__ import annotations

import pytest

import spmd_targets
from he_learn.comm.launch import run_roles
from he_learn.comm.ledger import Ledger
from he_learn.comm.local import InProcessCommunicator
from he_learn.comm.threads import run_threads
from he_learn.errors import CommunicationError, PrecisionError

ROLES = ("alice", "bob", "carol", "dealer")

pytest.importorskip("torch")


def _merged(ledgers: list[Ledger]) -> dict:
    return {k: v for k, v in Ledger.merge(ledgers).to_dict().items() if k != "framing_bytes"}


def test_in_process_threads_and_processes_agree() -> None:
    local = InProcessCommunicator(ROLES)
    expected = spmd_targets.patterns(local)
    assert expected["alice"] == {"total": 3, "gathered": [0, 1, 2], "dealt": [0], "public": 7.5, "doubled": [0, 2, 4, 6]}
    assert expected["carol"]["dealt"] == [0, 1, 2]

    worlds = {}
    threaded = run_threads(ROLES, spmd_targets.patterns)
    worlds["threads"] = {role: out[role] for role, out in threaded.items() if role in out}
    spawned = run_roles(spmd_targets.patterns, ROLES, timeout=120, comm_timeout=30)
    worlds["processes"] = {role: report["result"][role] for role, report in spawned.items() if role in report["result"]}
    for name, results in worlds.items():
        for role in ROLES[:-1]:
            want = dict(expected[role])
            if role != "alice":
                want["gathered"] = None  # only the gathering role sees what it gathered
            assert results[role] == want, name
    in_process = {k: v for k, v in local.ledger.to_dict().items() if k != "framing_bytes"}
    ledgers = []
    for report in spawned.values():
        ledger = Ledger(**{k: v for k, v in report["ledger"].items() if k not in ("dealer_bytes", "dealer_messages")})
        ledgers.append(ledger)
    assert _merged(ledgers) == in_process


def test_a_failed_check_reaches_every_rank() -> None:
    with pytest.raises(PrecisionError, match="out of range"):
        spmd_targets.lead_refuses(InProcessCommunicator(ROLES))
    with pytest.raises(PrecisionError, match="out of range"):
        run_threads(ROLES, spmd_targets.lead_refuses, timeout=10)
    with pytest.raises(PrecisionError, match="out of range"):
        run_roles(spmd_targets.lead_refuses, ROLES, timeout=60, comm_timeout=20)


def test_stalled_peer_is_named_within_the_timeout() -> None:
    with pytest.raises(CommunicationError, match="dealer"):
        run_roles(spmd_targets.stall, ROLES[:2] + ("dealer",), timeout=60, comm_timeout=3)


def test_dead_peer_is_named() -> None:
    with pytest.raises(CommunicationError, match="dealer"):
        run_roles(spmd_targets.crash, ("alice", "bob", "dealer"), timeout=60, comm_timeout=3)


def test_messages_beyond_the_store_limit_arrive_whole() -> None:
    """torch's TCPStore refuses one value above 8 MiB (a public context is 22-36 MB):
    the communicator sends longer messages in pieces and reassembles them."""
    reports = run_roles(spmd_targets.long_messages, ("trainer", "key-holder"), timeout=120, comm_timeout=30)
    assert reports["trainer"]["result"] == {"reply_ok": True, "length": 9 << 20}
