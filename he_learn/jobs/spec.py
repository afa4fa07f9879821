"""A job: what every process of a multi-process run agrees on, as one JSON file.

Threat model: the job file is public metadata that every role reads (an
estimator, its hyper-parameters, the roles) plus, per role, the path of that
role's own data file and output file, which only that role opens. The job's
*hash* covers everything but those local paths, together with he_learn's
version and wire-protocol version: the roles exchange it before anything else
(:class:`~he_learn.comm.torch_dist.TorchCommunicator`), so a role that joins
with another job, parameter set or code version is refused at the start.

Kinds and their roles (in rank order; rank 0 hosts the rendezvous):

- ``smpc-fit``: the parties ("alice", the data owner; "bob", the model owner;
  ...) and the "dealer";
- ``ckks-fit``: the "trainer" and the "key-holder" (the data owner, whose data
  file the job names); ``backend_options.model_to`` says who receives the model;
- ``ckks-predict``: the "model-owner" (its data file is a fitted model's JSON)
  and the "key-holder" (its data file holds the features).

Format::

    {"kind": "smpc-fit",
     "estimator": "LogisticRegression",
     "params": {"max_iter": 100, "learning_rate": "auto"},
     "backend_options": {"n_parties": 2, "range_check_every": 10},
     "data": {"alice": "alice.npz"},
     "output": {"bob": "model.json"},
     "timeout": 120,
     "bulk_transfers": false}

``bulk_transfers`` (default off) sends arrays of 64 KiB and more over gloo's
point-to-point links instead of the rendezvous store, about 7 times its
bandwidth; a peer that deviates from the protocol can then make gloo abort the
receiving process (:mod:`he_learn.comm.torch_dist`), so turn it on only among
honest-but-curious roles running this hash-checked job.

``backend_options.insecure_seed`` (a string; tests and benchmarks only) makes
an SMPC run reproducible and equal, bit for bit, to the in-process fit with the
same seed as bytes; a CKKS job's ``insecure_mask_seed`` (an int) pins the
trainer's refresh masks, and its weights equal the in-process fit's up to CKKS
noise.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from he_learn import __version__
from he_learn.comm import wire
from he_learn.errors import CommunicationError, ParameterError
from he_learn.he.role_messages import KEY_HOLDER, MODEL_OWNER, TRAINER
from he_learn.smpc.dealer_service import DEALER
from he_learn.smpc.session import party_names

__all__ = ["JobSpec", "JOB_KINDS", "PROTOCOL_VERSION"]

# Bumped whenever a message of any role changes shape.
PROTOCOL_VERSION = 1
JOB_KINDS = ("smpc-fit", "ckks-fit", "ckks-predict")
# The roles of the CKKS kinds (the SMPC kind's depend on n_parties).
_CKKS_ROLES = {"ckks-fit": (TRAINER, KEY_HOLDER), "ckks-predict": (MODEL_OWNER, KEY_HOLDER)}
ESTIMATORS = ("LinearRegression", "LogisticRegression", "MLPClassifier", "MLPRegressor")
# Networks train on shares only (CKKS neither trains nor, yet, evaluates them).
_SMPC_ONLY = ("MLPClassifier", "MLPRegressor")
_FIELDS = ("kind", "estimator", "params", "backend_options", "data", "output", "timeout", "bulk_transfers")
_MAX_JOB_BYTES = wire.MAX_HEADER_BYTES


@dataclass(frozen=True)
class JobSpec:
    """One job's parameters (see the module docstring). Validated on construction."""

    kind: str
    estimator: str
    params: Mapping[str, Any] = field(default_factory=dict)
    backend_options: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, str] = field(default_factory=dict)
    output: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 120.0
    bulk_transfers: bool = False

    def __post_init__(self) -> None:
        if self.kind not in JOB_KINDS:
            raise ParameterError(f"job kind must be one of {JOB_KINDS}, not {self.kind!r}")
        if self.estimator not in ESTIMATORS:
            raise ParameterError(f"job estimator must be one of {ESTIMATORS}, not {self.estimator!r}")
        if self.estimator in _SMPC_ONLY and self.kind != "smpc-fit":
            raise ParameterError(f"{self.estimator} jobs are of kind 'smpc-fit' only, not {self.kind!r}")
        for name in ("params", "backend_options", "data", "output"):
            if not isinstance(getattr(self, name), Mapping):
                raise ParameterError(f"job field {name!r} must be an object")
        if "backend" in self.params or "backend_options" in self.params:
            raise ParameterError("the job's kind fixes the backend; put its options in 'backend_options'")
        for name in ("data", "output"):
            for role, path in getattr(self, name).items():
                if not isinstance(role, str) or not isinstance(path, str) or not path:
                    raise ParameterError(f"job field {name!r} maps role names to file paths, not {role!r}: {path!r}")
        if not isinstance(self.timeout, (int, float)) or isinstance(self.timeout, bool) or not 0 < self.timeout < 1e6:
            raise ParameterError(f"job timeout must be a positive number of seconds, not {self.timeout!r}")
        if not isinstance(self.bulk_transfers, bool):
            raise ParameterError(f"job field 'bulk_transfers' must be true or false, not {self.bulk_transfers!r}")
        if self.kind in _CKKS_ROLES:
            roles = self.roles
            for name in ("data", "output"):
                stray = sorted(set(getattr(self, name)) - set(roles))
                if stray:
                    raise ParameterError(f"job field {name!r} names {stray}, which are not roles of a {self.kind} job {roles}")
            owners = (KEY_HOLDER,) if self.kind == "ckks-fit" else (MODEL_OWNER, KEY_HOLDER)
            missing = [role for role in owners if role not in self.data]
            if missing:
                raise ParameterError(f"a {self.kind} job names the data file of {', '.join(missing)} in 'data'")

    @property
    def parties(self) -> tuple[str, ...]:
        """The SMPC parties, in protocol order (data owner first, model owner second)."""
        return party_names(int(self.backend_options.get("n_parties", 2)))

    @property
    def roles(self) -> tuple[str, ...]:
        """Every role of the job, in rank order (rank 0 hosts the rendezvous)."""
        if self.kind in _CKKS_ROLES:
            return _CKKS_ROLES[self.kind]
        return self.parties + (DEALER,)

    # -- identity ----------------------------------------------------------------------
    def public(self) -> dict[str, Any]:
        """What every role must agree on: everything but the local file paths."""
        return {
            "kind": self.kind,
            "estimator": self.estimator,
            "params": dict(self.params),
            "backend_options": dict(self.backend_options),
            "data_owners": sorted(self.data),
            "output_owners": sorted(self.output),
            "timeout": self.timeout,
            "bulk_transfers": self.bulk_transfers,
            "he_learn": __version__,
            "protocol": PROTOCOL_VERSION,
        }

    @property
    def hash(self) -> str:
        return hashlib.sha256(json.dumps(self.public(), sort_keys=True).encode()).hexdigest()

    # -- files ---------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps({name: getattr(self, name) for name in _FIELDS}, indent=2, sort_keys=True, default=dict)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "JobSpec":
        unknown = sorted(set(raw) - set(_FIELDS))
        if unknown:
            raise ParameterError(f"unknown job field(s) {', '.join(unknown)}; known: {', '.join(_FIELDS)}")
        try:
            return cls(**raw)
        except TypeError as exc:
            raise ParameterError(f"malformed job: {exc}") from None

    @classmethod
    def load(cls, path: str | Path) -> "JobSpec":
        """Read a job file; relative data and output paths are taken from its folder."""
        path = Path(path)
        try:
            raw_bytes = path.read_bytes()
        except OSError as exc:
            raise ParameterError(f"cannot read the job file {path}: {exc}") from None
        if len(raw_bytes) > _MAX_JOB_BYTES:
            raise ParameterError(f"the job file {path} is larger than {_MAX_JOB_BYTES} bytes")
        try:
            raw = wire.parse_header(raw_bytes)  # the bounded JSON parser of every message
        except CommunicationError as exc:
            raise ParameterError(f"the job file {path} is not a valid job: {exc}") from None
        spec = cls.from_dict(raw)
        base = path.resolve().parent

        def absolute(paths: Mapping[str, str]) -> dict[str, str]:
            return {role: str(base / p) for role, p in paths.items()}

        return cls(spec.kind, spec.estimator, spec.params, spec.backend_options, absolute(spec.data),
                   absolute(spec.output), spec.timeout, spec.bulk_transfers)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.to_json() + "\n")
        return path
