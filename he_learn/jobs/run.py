"""Run one role of a job in this process, or every role as local processes.

Threat model: as the job kinds' modules (:mod:`he_learn.jobs.smpc_fit`,
:mod:`he_learn.jobs.ckks_fit`, :mod:`he_learn.jobs.ckks_predict`). The
channel is torch.distributed's, which does not encrypt (docs/design.md,
"Channels"). A role's report (its result summary and its ledger) goes to a
file it writes itself; :func:`run_local` reads those files back as JSON.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Mapping

from he_learn.comm import wire
from he_learn.comm.launch import LOOPBACK, free_port, run_commands
from he_learn.comm.torch_dist import TorchCommunicator
from he_learn.errors import CommunicationError, ParameterError
from he_learn.jobs.ckks_fit import run_ckks_fit
from he_learn.jobs.ckks_predict import run_ckks_predict
from he_learn.jobs.smpc_fit import run_smpc_fit
from he_learn.jobs.spec import JobSpec

__all__ = ["run_role", "connect", "run_connected", "run_local", "party_command"]

_RUNNERS = {"smpc-fit": run_smpc_fit, "ckks-fit": run_ckks_fit, "ckks-predict": run_ckks_predict}
logger = logging.getLogger(__name__)


def connect(spec: JobSpec, role: str, *, master_addr: str | None = None, master_port: int | None = None) -> TorchCommunicator:
    """This role's communicator for ``spec`` (the rendezvous, the job-hash check, gloo)."""
    if role not in spec.roles:
        raise ParameterError(f"role {role!r} is not part of this job; its roles are {', '.join(spec.roles)}")
    return TorchCommunicator(
        role, spec.roles, master_addr=master_addr, master_port=master_port, timeout=spec.timeout, job_hash=spec.hash,
        bulk_transfers=spec.bulk_transfers,
    )


def run_role(spec: JobSpec, role: str, comm: Any) -> dict[str, Any]:
    """Run ``role``'s part of ``spec`` on an open communicator; returns its report."""
    return _RUNNERS[spec.kind](spec, role, comm)


def run_connected(spec: JobSpec, role: str, *, master_addr: str | None = None, master_port: int | None = None,
                  report_path: str | Path | None = None) -> dict[str, Any]:
    """Connect, run ``role``, close (also after a failure), and write the report.

    The report holds ``result`` (or ``failure``: the error's class and message)
    and the role's ``ledger``. Re-raises the role's error after writing it.
    """
    comm = None
    report: dict[str, Any] = {"role": role}
    try:
        comm = connect(spec, role, master_addr=master_addr, master_port=master_port)
        logger.info("%s joined the job (%s, %d roles)", role, spec.kind, len(spec.roles))
        report["result"] = run_role(spec, role, comm)
        comm.close()
        report["ledger"] = comm.ledger.to_dict()
        return report
    except BaseException as exc:
        report["failure"] = wire.error_header(exc)
        if comm is not None:
            comm.fail(role, exc)
            comm.close()
            report["ledger"] = comm.ledger.to_dict()
        raise
    finally:
        if report_path is not None:
            Path(report_path).write_text(json.dumps(report, default=float) + "\n")


def party_command(job_path: str | Path, role: str, roles: int, port: int, report: str | Path,
                  master_addr: str = LOOPBACK, verbose: bool = False) -> list[str]:
    """The ``he-learn party`` command line of one role (``verbose``: log progress to stderr)."""
    return [
        sys.executable, "-m", "he_learn.cli", *(["-v"] if verbose else []), "party", "--role", role,
        "--world-size", str(roles),
        "--master-addr", master_addr, "--master-port", str(port), "--report", str(report), str(job_path),
    ]


def run_local(spec: JobSpec | str | Path, *, timeout: float | None = None,
              env: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Run every role of a job as its own ``he-learn party`` process on loopback.

    Returns each role's report. Raises the first failing role's error (the same
    he_learn class), or ``CommunicationError`` on overrun; every process is
    stopped before this returns.
    """
    spec = JobSpec.load(spec) if not isinstance(spec, JobSpec) else spec
    with tempfile.TemporaryDirectory(prefix="he_learn_job_") as folder:
        job_path = spec.save(Path(folder) / "job.json")
        port = free_port()
        reports = {role: Path(folder) / f"{role}.json" for role in spec.roles}
        commands = {role: party_command(job_path, role, len(spec.roles), port, reports[role]) for role in spec.roles}
        # Children import this very he_learn, installed or from a source tree.
        source = str(Path(__file__).resolve().parents[2])
        environment = {**(env or {}), "PYTHONPATH": os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))}
        outcomes = run_commands(commands, timeout=timeout or 3 * spec.timeout + 60, env=environment)
        results: dict[str, dict[str, Any]] = {}
        for role in spec.roles:
            try:
                results[role] = json.loads(reports[role].read_text())
            except (OSError, ValueError):
                outcome = outcomes[role]
                raise CommunicationError(
                    f"{role} exited with status {outcome.returncode} without a report: {outcome.stderr.strip()[-2000:]}"
                ) from None
    failures = [(role, r["failure"]) for role, r in results.items() if "failure" in r]
    if failures:
        # The root cause is the failure that is not an echo of another role's.
        root = next(((role, f) for role, f in failures if " reported: " not in str(f.get("message"))), failures[0])
        wire.raise_error(root[1], root[0])
    return results
