"""Module-level SPMD functions the communicator tests run in every mode
(spawned processes import them by name)."""

from __future__ import annotations

import time

import numpy as np

from he_learn.comm.communicator import Reply
from he_learn.comm import wire
from he_learn.errors import PrecisionError


def patterns(comm) -> dict:
    """Every pattern once; returns what the local roles saw."""
    group = comm.roles[:-1]  # the last role is a service
    service = comm.roles[-1]
    out: dict = {}
    if service in comm.local_roles:
        def handler(client: str, request: bytes):
            _, (values,) = wire.unpack_arrays(request, "double")
            doubled = values * 2
            return Reply(wire.pack_arrays("doubled", [doubled]), "doubler", int(doubled.nbytes))

        comm.serve(service, handler, group)
    members = [r for r in group if r in comm.local_roles]
    if not members:
        return out
    mine = {r: [np.full(3, i, dtype=np.int64)] for i, r in enumerate(group) if r in comm.local_roles}
    opened = comm.exchange(group, mine)
    total = sum(int(opened[r][0][0]) for r in group)
    gathered = comm.gather(group, group[0], mine)
    dealt = comm.scatter(group, group[0], {r: [np.arange(i + 1, dtype=np.int64)] for i, r in enumerate(group)}
                         if group[0] in comm.local_roles else None)
    public = comm.broadcast(group, group[-1], [np.array([7.5])] if group[-1] in comm.local_roles else None)
    comm.agree(group, group[0], None)
    for role in members:
        reply = comm.call(role, service, "double", wire.pack_arrays("double", [np.arange(4, dtype=np.int64)]))
        _, (doubled,) = wire.unpack_arrays(reply.result(), "doubled")
        out[role] = {
            "total": total,
            "gathered": None if gathered is None else sorted(int(v[0][0]) for v in gathered.values()),
            "dealt": dealt[role][0].tolist(),
            "public": float(public[0][0]),
            "doubled": doubled.tolist(),
        }
        comm.goodbye(role, service)
    return out


def lead_refuses(comm) -> str:
    """The lead's check fails: every member must raise the same error class."""
    group = comm.roles
    error = PrecisionError("alice's values are out of range") if group[0] in comm.local_roles else None
    comm.agree(group, group[0], error)
    return "not reached"


def stall(comm) -> str:
    """The last role sleeps past the others' timeout."""
    group = comm.roles
    if group[-1] in comm.local_roles:
        time.sleep(comm.timeout * 3)
        return "late"
    comm.exchange(group, {r: [np.zeros(1, dtype=np.int64)] for r in group if r in comm.local_roles})
    return "not reached"


def crash(comm) -> str:
    """The last role dies without a word."""
    import os

    group = comm.roles
    if group[-1] in comm.local_roles:
        os._exit(3)
    comm.exchange(group, {r: [np.zeros(1, dtype=np.int64)] for r in group if r in comm.local_roles})
    return "not reached"


def long_messages(comm) -> dict:
    """A request, a reply and a role-to-role message beyond the store's 8 MiB per value."""
    size = 9 << 20
    first, service = comm.roles[0], comm.roles[-1]
    if service in comm.local_roles:
        comm.serve(service, lambda client, data: Reply(data[::-1], "echo", len(data)), [first])
        return {}
    request = bytes(range(256)) * (size // 256)
    reply = comm.call(first, service, "echo", request).result()
    comm.goodbye(first, service)
    return {"reply_ok": reply == request[::-1], "length": len(reply)}
