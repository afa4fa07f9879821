"""Shared fixtures for the SMPC engine tests: every protocol test runs in two modes.

``mpc`` runs an SPMD test function the way a deployment does:

- ``"in-process"``: one :class:`Session` holding every party (and an
  in-process dealer); the function runs once;
- ``"threads"``: one thread per party plus the dealer's service thread
  (:func:`he_learn.comm.threads.run_threads` + :func:`he_learn.smpc.run_party`),
  each party building its own ``Session(parties, comm=endpoint, ...)``, so a
  session holds only its own party's shares and every message is framed and
  parsed as across processes. A protocol (or a test) that still assumes "every
  share is here" fails in this mode.

The test function gets the session and must itself be SPMD: loop over
``session.local``, share with :meth:`Mpc.share`, and expect ``reveal(to=p)``
to return ``None`` off ``p``.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import pytest

from he_learn.comm.ledger import Ledger
from he_learn.comm.threads import run_threads
from he_learn.smpc import DEALER, Session, party_names, run_party, share
from he_learn.smpc.shared import SharedTensor

MODES = ("in-process", "threads")
# A role waiting this long for a peer has hung: fail the test instead of waiting
# for the library's two-minute default (the machine is shared and loaded, so
# this is generous for the small jobs of the suite).
THREAD_TIMEOUT = 60.0


class Results(list):
    """What each process's function returned, in party order (one entry in-process),
    with the job's ledgers: ``ledgers`` by role (in-process ``{"*": the one ledger}``) and
    ``ledger``, all of them merged."""

    ledger: Ledger
    ledgers: dict[str, Ledger]


def job_counters(ledger: Ledger) -> dict[str, object]:
    """A ledger's counters that must agree between modes (framing exists only on a wire)."""
    counters = ledger.to_dict()
    counters.pop("framing_bytes")
    return counters


def assert_identical(expected: Any, got: Any, where: str = "value") -> None:
    """Equal bit for bit (dtype, shape and bytes of arrays; recursively in containers)."""
    if isinstance(expected, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(expected), f"{where}: {got!r} vs {expected!r}"
        for i, (e, g) in enumerate(zip(expected, got)):
            assert_identical(e, g, f"{where}[{i}]")
    elif isinstance(expected, dict):
        assert isinstance(got, dict) and set(got) == set(expected), f"{where}: keys {sorted(got)} vs {sorted(expected)}"
        for key in expected:
            assert_identical(expected[key], got[key], f"{where}[{key!r}]")
    elif isinstance(expected, (np.ndarray, np.generic)):
        e, g = np.asarray(expected), np.asarray(got)
        assert (e.dtype, e.shape) == (g.dtype, g.shape), f"{where}: {g.dtype}{g.shape} vs {e.dtype}{e.shape}"
        assert e.tobytes() == g.tobytes(), f"{where} differs: {g!r} vs {expected!r}"
    else:
        assert type(got) is type(expected) and got == expected, f"{where}: {got!r} vs {expected!r}"


def combine(a: Any, b: Any, where: str = "value") -> Any:
    """Two processes' views of one revealed value: ``None`` (not revealed there) gives
    way to the other view; two views must be identical (recursively in containers)."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        return type(a)(combine(x, y, f"{where}[{i}]") for i, (x, y) in enumerate(zip(a, b)))
    assert_identical(a, b, where)
    return a


class Mpc:
    """Runs SPMD test functions in one of :data:`MODES` (see the module docstring)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    @property
    def threads(self) -> bool:
        return self.mode == "threads"

    assert_identical = staticmethod(assert_identical)
    counters = staticmethod(job_counters)

    @staticmethod
    def in_process() -> "Mpc":
        """The in-process runner (a reference to compare a threads run with)."""
        return Mpc("in-process")

    @staticmethod
    def share(session: Session, value: Any, owner: str) -> SharedTensor:
        """``owner`` shares ``value``; every other process passes None, as SPMD code must."""
        return share(session, value if session.runs(owner) else None, owner)

    def run(
        self,
        fn: Callable[[Session], Any],
        n_parties: int = 2,
        *,
        parties: Sequence[str] | None = None,
        **session_kwargs: Any,
    ) -> Results:
        """``fn(session)`` in every process of a job of ``n_parties`` (or ``parties``).

        An error raised by ``fn`` surfaces here as the same class in both modes
        (in threads: the first failing role's error; the others only echo it).
        """
        names = tuple(parties) if parties is not None else party_names(n_parties)
        if not self.threads:
            session = Session(names, **session_kwargs)
            out = Results([fn(session)])
            out.ledgers = {"*": session.ledger}
            out.ledger = session.ledger
            return out

        def role(endpoint: Any) -> tuple[Any, Ledger]:
            def body(comm: Any) -> Any:
                return fn(Session(names, comm=comm, **session_kwargs))

            result = run_party(endpoint, names, body, insecure_seed=session_kwargs.get("insecure_seed"))
            return result, endpoint.ledger

        by_role = run_threads((*names, DEALER), role, timeout=THREAD_TIMEOUT)
        out = Results([by_role[name][0] for name in names])
        out.ledgers = {r: ledger for r, (_, ledger) in by_role.items()}
        out.ledger = Ledger.merge(out.ledgers.values())
        return out

    def value(self, fn: Callable[[Session], Any], n_parties: int = 2, **kwargs: Any) -> Any:
        """The value ``fn`` returns: a revealed value (or a tuple of them), the same
        in every process where it is not None (``reveal(to=p)`` is None off p).

        In threads mode with an ``insecure_seed``, an in-process run of the same
        job must give the very same value, bit for bit, and the same merged ledger.
        """
        out = self.run(fn, n_parties, **kwargs)
        value = out[0]
        for i, other in enumerate(out[1:], start=1):
            value = combine(value, other, f"process {i}'s value")
        if self.threads and kwargs.get("insecure_seed") is not None:
            reference = self.in_process().run(fn, n_parties, **kwargs)
            assert_identical(reference[0], value, "threads vs in-process")
            assert job_counters(out.ledger) == job_counters(reference.ledger)
        return value


@pytest.fixture(scope="session", params=MODES)
def mpc(request: pytest.FixtureRequest) -> Mpc:
    """The SPMD runner, once per mode (session-scoped: it is stateless, and
    Hypothesis refuses function-scoped fixtures)."""
    return Mpc(request.param)


@pytest.fixture(params=[2, 3], ids=["2 parties", "3 parties"])
def n_parties(request: pytest.FixtureRequest) -> int:
    """Every protocol must work for any n."""
    return request.param


@pytest.fixture
def seed(n_parties: int) -> bytes:
    """The suite's insecure seed for a job of ``n_parties`` (TESTS ONLY: public)."""
    return b"tests/smpc:" + bytes([n_parties])
