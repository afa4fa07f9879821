"""Start a job's roles as local processes on loopback, and always stop them again.

Threat model: the launcher is the user's own tool on one machine (tests,
examples, benchmarks); it starts processes, waits for them and kills every one
that is left, also when one fails or the whole job overruns. What a child
reports back is parsed as JSON, never unpickled.

Two entry points:

- :func:`run_roles`: every role runs ``target(communicator, *args)`` in its own
  ``multiprocessing`` "spawn" process over a :class:`TorchCommunicator`; the
  results come back by role (JSON values), or the first role's error is
  re-raised as the same he_learn error class.
- :func:`run_commands`: one command line per role (``he-learn party ...``), as
  separate programs; returns their exit codes and output.

Ports are picked free by binding port 0 on 127.0.0.1; a race with another
program grabbing it between the pick and the job's start shows up as a
``CommunicationError`` from the rendezvous.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from he_learn.comm import wire
from he_learn.comm.communicator import DEFAULT_TIMEOUT, check_roles
from he_learn.errors import CommunicationError, ParameterError

__all__ = ["free_port", "run_roles", "run_commands", "CommandResult", "LOOPBACK"]

LOOPBACK = "127.0.0.1"
# After the first role fails, the others get this long to fail on their own
# (they receive its error frame, or time out) before they are killed.
_GRACE_SECONDS = 10.0


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that was free on ``host`` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _child(target: Callable[..., Any], role: str, roles: Sequence[str], port: int, timeout: float,
           job_hash: str, args: tuple[Any, ...], connection: Any, bulk_transfers: bool = False) -> None:
    # torch's C++ logger repeats every store error on stderr; the errors reach
    # the parent through the pipe, named and typed.
    os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")
    from he_learn.comm.torch_dist import TorchCommunicator

    comm = None
    try:
        comm = TorchCommunicator(role, roles, master_addr=LOOPBACK, master_port=port, timeout=timeout,
                                 job_hash=job_hash, bulk_transfers=bulk_transfers)
        result = target(comm, *args)
        comm.close()
        message = {"result": result, "ledger": comm.ledger.to_dict()}
    except BaseException as exc:  # noqa: BLE001 - every failure is reported to the parent
        if comm is not None:
            comm.fail(role, exc)
            comm.close()
        message = {"failure": wire.error_header(exc)}
    connection.send_bytes(json.dumps(message).encode())
    connection.close()


def run_roles(
    target: Callable[..., Any],
    roles: Sequence[str],
    *,
    args: Sequence[Any] = (),
    timeout: float = 300.0,
    comm_timeout: float = DEFAULT_TIMEOUT,
    job_hash: str = "",
    bulk_transfers: bool = False,
) -> dict[str, dict[str, Any]]:
    """Run ``target(communicator, *args)`` once per role, each in its own process.

    ``target`` must be importable (a module-level function). Returns
    ``{role: {"result": ..., "ledger": {...}}}``. Raises the first role's error
    (same he_learn class), or ``CommunicationError`` when the job overruns
    ``timeout`` seconds; every process is stopped before this returns or raises.
    """
    names = check_roles(roles)
    context = multiprocessing.get_context("spawn")
    port = free_port()
    pipes: dict[str, Any] = {}
    processes: dict[str, Any] = {}
    try:
        for role in names:
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(
                target=_child,
                args=(target, role, names, port, comm_timeout, job_hash, tuple(args), sender, bulk_transfers),
                name=f"he_learn-{role}",
                daemon=True,
            )
            process.start()
            sender.close()
            pipes[role], processes[role] = receiver, process
        return _collect(names, pipes, processes, timeout)
    finally:
        _stop(processes.values())


def _collect(names: Sequence[str], pipes: Mapping[str, Any], processes: Mapping[str, Any],
             timeout: float) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    reports: dict[str, dict[str, Any]] = {}
    first_failure: tuple[str, dict[str, Any]] | None = None
    while len(reports) < len(names):
        now = time.monotonic()
        if now > deadline:
            break
        for role in names:
            if role in reports:
                continue
            pipe = pipes[role]
            if pipe.poll(0.02):
                try:
                    reports[role] = json.loads(pipe.recv_bytes())
                except (EOFError, ValueError, OSError):
                    reports[role] = {"failure": {"error": "CommunicationError", "message": f"{role} died without a report"}}
            elif not processes[role].is_alive() and not pipe.poll(0):
                code = processes[role].exitcode
                reports[role] = {"failure": {"error": "CommunicationError", "message": f"{role} exited with code {code}"}}
            if role in reports and "failure" in reports[role] and first_failure is None:
                first_failure = (role, reports[role]["failure"])
                deadline = min(deadline, time.monotonic() + _GRACE_SECONDS)
    if first_failure is not None:
        wire.raise_error(first_failure[1], first_failure[0])
    if len(reports) < len(names):
        missing = [r for r in names if r not in reports]
        raise CommunicationError(f"the job overran {timeout:g} s; still running: {', '.join(missing)} (stopped)")
    return reports


def _stop(processes: Any) -> None:
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(2.0)
        if process.is_alive():
            process.kill()
            process.join(2.0)


@dataclass(frozen=True)
class CommandResult:
    """How one role's program ended."""

    returncode: int
    stdout: str
    stderr: str


def run_commands(
    commands: Mapping[str, Sequence[str]],
    *,
    timeout: float = 300.0,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> dict[str, CommandResult]:
    """Run one program per role and wait for all of them (see the module docstring).

    Each program runs in its own process group, so everything it starts is
    stopped with it. After the first non-zero exit the others get a grace
    period to fail on their own. Raises ``CommunicationError`` on overrun.
    """
    if not commands:
        raise ParameterError("no commands to run")
    environment = {**os.environ, "TORCH_CPP_LOG_LEVEL": "ERROR", **(env or {})}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    outputs: dict[str, tuple[Any, Any]] = {}
    try:
        for role, argv in commands.items():
            out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
            outputs[role] = (out, err)
            processes[role] = subprocess.Popen(
                list(argv), stdout=out, stderr=err, env=environment, cwd=cwd, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while any(p.poll() is None for p in processes.values()):
            if time.monotonic() > deadline:
                running = [r for r, p in processes.items() if p.poll() is None]
                raise CommunicationError(f"the job overran {timeout:g} s; still running: {', '.join(running)} (stopped)")
            if any(p.poll() not in (None, 0) for p in processes.values()):
                deadline = min(deadline, time.monotonic() + _GRACE_SECONDS)
            time.sleep(0.02)
        results = {}
        for role, process in processes.items():
            out, err = outputs[role]
            out.seek(0)
            err.seek(0)
            results[role] = CommandResult(process.returncode, out.read().decode(errors="replace"),
                                          err.read().decode(errors="replace"))
        return results
    finally:
        for process in processes.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(5)
        for out, err in outputs.values():
            out.close()
            err.close()
