"""``he-learn party``: run one role of a job as its own process.

Threat model: the role holds only its own data file; the job file is public.
Roles: an SMPC fit's parties (alice, bob, ...) and dealer; a CKKS fit's
trainer and key-holder; a CKKS inference job's model-owner and key-holder.
Between roles, torch.distributed sends cleartext and authenticates nobody, so
the roles must talk over a private network, WireGuard or SSH tunnels
(docs/design.md, "Channels", shows the SSH set-up).
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

__all__ = ["add_party_parser", "run_party_command", "CHANNEL_WARNING"]

CHANNEL_WARNING = (
    "SECURITY: torch.distributed (its TCP rendezvous store and gloo) neither encrypts nor authenticates: anyone "
    "on the path can read the shares and join the rendezvous. Run the roles on a private network, inside "
    "WireGuard, or through SSH tunnels, e.g. on every party's host `ssh -N -L 29500:127.0.0.1:29500 "
    "rank0-host` and --master-addr 127.0.0.1 (see docs/design.md, 'Channels')."
)


def add_party_parser(commands: Any, int_at_least: Any) -> None:
    party = commands.add_parser(
        "party",
        help="run one role of a multi-process job (an SMPC party or the dealer; the CKKS trainer, key holder or "
        "model owner)",
        description="Run one role of JOB (a JSON job file) as this process. Start one process per role, in any "
        "order; rank 0 (the first role) hosts the rendezvous at --master-addr:--master-port. Each role reads only "
        "its own data file named in the job. " + CHANNEL_WARNING,
    )
    party.add_argument("job", metavar="JOB", help="the job file (JSON): estimator, parameters, each role's files")
    party.add_argument(
        "--role", required=True,
        help="this process's role: alice, bob, ... or dealer (smpc-fit); trainer or key-holder (ckks-fit); "
        "model-owner or key-holder (ckks-predict)",
    )
    party.add_argument("--world-size", type=int_at_least(2), required=True, help="the number of roles in the job")
    party.add_argument("--master-addr", default=None, help="host of rank 0's rendezvous (default $MASTER_ADDR or 127.0.0.1)")
    party.add_argument("--master-port", type=int_at_least(1), default=None, help="its port (default $MASTER_PORT)")
    party.add_argument("--report", metavar="FILE.json", default=None, help="write this role's report and ledger here")


def run_party_command(args: argparse.Namespace, out: TextIO) -> int:
    from he_learn.errors import ParameterError
    from he_learn.jobs.run import run_connected
    from he_learn.jobs.spec import JobSpec

    spec = JobSpec.load(args.job)
    if args.world_size != len(spec.roles):
        raise ParameterError(f"--world-size {args.world_size} but the job has {len(spec.roles)} roles: {', '.join(spec.roles)}")
    report = run_connected(spec, args.role, master_addr=args.master_addr, master_port=args.master_port,
                           report_path=args.report)
    result = report.get("result", {})
    ledger = report.get("ledger", {})
    summary = result.get("report", {})
    line = f"{args.role}: done"
    if summary:
        # SMPC parties send role-to-role messages; CKKS roles send requests and replies.
        sent = ledger.get("bytes_sent", 0) + sum(ledger.get("request_bytes", {}).values()) \
            + sum(ledger.get("service_bytes", {}).values())
        rounds = summary.get("rounds", ledger.get("rounds", 0))
        line += (f"; {summary.get('n_iter')} iterations in {summary.get('seconds', 0.0):.3f} s, "
                 f"sent {sent:,} bytes in {rounds} rounds")
    if "model" in result:
        line += "; received the model" + (f", written to {spec.output[args.role]}" if args.role in spec.output else "")
    print(line, file=out)
    return 0
