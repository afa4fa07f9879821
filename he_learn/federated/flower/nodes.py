"""The node side of he_learn on Flower: one ClientApp, three roles by node config.

Threat model (docs/design.md, "Federated roles"). A SuperNode's node config
names its role (``he-learn-role``):

- ``client`` (default): trains on its own data, then encrypts ``[w * delta, w,
  1 / max_clients]`` under the key holder's public context (CKKS path) or splits
  it into shares sealed to each aggregator (key-free path). It answers one round
  per global model: a second round id for a model it already answered is
  refused (``SecurityError``), so a server cannot collect two aggregates of the
  same updates by re-announcing. The memory sits in the node's Flower state.
- ``keyholder``: owns the CKKS secret key in ``he-learn-key-dir`` (created on
  first use, mode 0600, :meth:`~he_learn.he.keys.KeyHolder.secret_bytes`)
  beside its round registry, which also keeps each key's spent release budget;
  answers ``announce`` (it fixes the round's parameters itself, and replaces
  the key by a fresh one when the budget would not cover the round: the new
  public context goes to the clients with the round) and ``decrypt`` (one
  aggregate per round, checked by
  :class:`~he_learn.federated.keyholder.AggregationKeyHolder`). Its preset is
  node config ``he-learn-preset`` (default 'aggregation-additive').
- ``aggregator``: owns an X25519 key in ``he-learn-key-dir``; answers ``key``
  and ``sum`` (one sum per round, :class:`~he_learn.federated.sealed_shares.SealedShareSum`).

A node refuses requests meant for another role. Every failure is answered with
the he_learn error's class and message, which the ServerApp reports per node.
Flower starts a ClientApp process per message, so all state lives in files or
in the node's ``context.state``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from he_learn._native import Csprng
from he_learn.comm import wire
from he_learn.errors import CommunicationError, HeLearnError, ParameterError, SecurityError
from he_learn.federated.client import FederatedClient
from he_learn.federated.flower.records import ROLE_KEY, error_reply, metrics_mod, read_fields, reply
from he_learn.federated.flower.task import FederatedTask
from he_learn.federated.keyholder import AggregationKeyHolder
from he_learn.federated.messages import EncryptedAggregate
from he_learn.federated.presets import DEFAULT_AGGREGATION, preset_by_name
from he_learn.federated.registry import RoundRegistry
from he_learn.federated.sealed_shares import AggregatorKey, SealedShareSum, seal_share, split_update
from he_learn.federated.spec import RoundSpec
from he_learn.federated.updates import flatten_arrays
from he_learn.he.keys import KeyHolder, PublicContext

__all__ = ["make_client_app", "MODEL_KIND", "ROLES", "pack_model", "unpack_model", "public_fields", "public_from"]

MODEL_KIND = "federated-model"
ROLES = ("client", "keyholder", "aggregator")
_ANSWERED = "he_learn_answered"


def pack_model(arrays: list[np.ndarray]) -> bytes:
    return wire.pack_arrays(MODEL_KIND, [np.asarray(a, dtype=np.float64) for a in arrays])


def unpack_model(data: Any) -> list[np.ndarray]:
    _, arrays = wire.unpack_arrays(data, MODEL_KIND)
    return [a.copy() for a in arrays]


def public_fields(public: PublicContext) -> dict[str, Any]:
    return {"public_context": public.data, "public_sha256": public.data_sha256 or "", "params": public.params.name,
            "fingerprint": public.fingerprint}


def public_from(fields: dict[str, Any]) -> PublicContext:
    """A public context from message fields (its hash, key and fingerprint are checked on use)."""
    return PublicContext(preset_by_name(fields["params"]), (), fields["fingerprint"], fields["public_context"],
                         fields["public_sha256"])


_PUBLIC = {"public_context": bytes, "public_sha256": str, "params": str, "fingerprint": str}


def _role(context: Any) -> str:
    role = context.node_config.get(ROLE_KEY, "client")
    if role not in ROLES:
        raise ParameterError(f"node config {ROLE_KEY}={role!r}; choose one of {ROLES}")
    return str(role)


def _key_dir(context: Any) -> Path:
    found = context.node_config.get("he-learn-key-dir")
    if not isinstance(found, str) or not found:
        raise ParameterError("a key holder or aggregator node needs node config he-learn-key-dir=PATH")
    return Path(found)


_KEY_FILE = "secret-context.bin"


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600, atomically (it holds a secret key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def _key_holder(context: Any) -> AggregationKeyHolder:
    directory = _key_dir(context)
    params = preset_by_name(context.node_config.get("he-learn-preset", DEFAULT_AGGREGATION.name))
    key_file = directory / _KEY_FILE
    if key_file.exists():
        try:
            data = key_file.read_bytes()
        except OSError as exc:
            raise CommunicationError(f"cannot read the key file {key_file}: {exc}") from None
        holder = KeyHolder.from_secret_bytes(params, data)
    else:
        holder = KeyHolder(params)
        _write_private(key_file, holder.secret_bytes())
    return AggregationKeyHolder(holder, registry=RoundRegistry(directory / "rounds.json"))


def _aggregator(context: Any) -> SealedShareSum:
    directory = _key_dir(context)
    name = str(context.node_config.get("he-learn-name", f"aggregator-{context.node_id}"))
    key_file = directory / "x25519.key"
    if key_file.exists():
        key = AggregatorKey(name, key_file.read_bytes())
    else:
        key = AggregatorKey(name)
        directory.mkdir(parents=True, exist_ok=True)
        key_file.touch(mode=0o600)
        key_file.write_bytes(key.private_bytes())
    return SealedShareSum(key, RoundRegistry(directory / "sums.json"))


def _guard_model(context: Any, model: bytes, round_id: str) -> None:
    """Refuse to answer a second round for a model this client already answered."""
    from flwr.app import ConfigRecord

    digest = hashlib.sha256(model).hexdigest()
    record = context.state.config_records.get(_ANSWERED) or ConfigRecord({})
    if digest in record and record[digest] != round_id:
        raise SecurityError(
            f"this client already answered round {record[digest]!r} for the same model: answering round "
            f"{round_id!r} too would let the server difference two aggregates of the same update"
        )
    record[digest] = round_id
    context.state.config_records[_ANSWERED] = record


def _client_id(context: Any) -> str:
    return str(context.node_config.get("he-learn-name", context.node_id))


def _local_delta(task: FederatedTask, model: bytes, context: Any) -> tuple[np.ndarray, int]:
    start = unpack_model(model)
    trained, n_samples = task.train(start, context.node_config)
    new, _ = flatten_arrays(list(trained))
    old, _ = flatten_arrays(start)
    if new.shape != old.shape:
        raise ParameterError("local training changed the model's shape")
    return new - old, int(n_samples)


def _maybe_drop_out(message: Any, context: Any) -> None:
    """Test hook: node config ``he-learn-drop-from-round=N`` makes this client's
    ClientApp fail from server round N on, so Flower answers with an error instead
    of an update, as for a client that crashed; the ServerApp counts it as a
    dropout, exactly as a client that never answers within the timeout. (Not an
    he_learn error on purpose: it stands for a failure outside the library.)"""
    start = context.node_config.get("he-learn-drop-from-round")
    if isinstance(start, int) and str(message.metadata.group_id).isdigit() and int(message.metadata.group_id) >= start:
        raise ConnectionAbortedError(f"client dropped out in round {message.metadata.group_id} (test hook)")


def _train_he(task: FederatedTask, message: Any, context: Any) -> dict[str, Any]:
    fields = read_fields(message, {"spec": bytes, "model": bytes, **_PUBLIC}, "the server")
    spec = RoundSpec.from_bytes(fields["spec"])
    _guard_model(context, fields["model"], spec.round_id)
    delta, n_samples = _local_delta(task, fields["model"], context)
    update = FederatedClient(_client_id(context), public_from(fields)).encrypt_update(delta, n_samples, spec)
    return {"update": update.to_bytes()}


def _train_shared(task: FederatedTask, message: Any, context: Any) -> dict[str, Any]:
    fields = read_fields(message, {"round_id": str, "model": bytes, "aggregators": list, "keys": list,
                                   "max_samples": int, "max_clients": int}, "the server")
    names, keys = fields["aggregators"], fields["keys"]
    if len(names) != len(keys) or len(names) < 2 or not all(isinstance(k, bytes) for k in keys):
        raise CommunicationError("the round names its aggregators and their keys inconsistently")
    _guard_model(context, fields["model"], fields["round_id"])
    delta, n_samples = _local_delta(task, fields["model"], context)
    shares = split_update(delta, n_samples, max_samples=fields["max_samples"], max_clients=fields["max_clients"],
                          n_aggregators=len(names))
    rng = Csprng()
    client = _client_id(context)
    sealed = [seal_share(s, k, round_id=fields["round_id"], client_id=client, aggregator=str(n), csprng=rng)
              for s, k, n in zip(shares, keys, names)]
    return {"client": client, "sealed": sealed}


def _announce(message: Any, context: Any) -> dict[str, Any]:
    fields = read_fields(message, {"round_id": str, "n_values": int, "max_samples": int, "max_clients": int,
                                   "min_clients": int}, "the server")
    holder = _key_holder(context)
    before = holder.fingerprint
    spec = holder.announce(**fields)
    if holder.fingerprint != before:
        # the old key's budget is spent: announce rotated, and the old key is gone for good
        _write_private(_key_dir(context) / _KEY_FILE, holder.key_holder.secret_bytes())
    return {"spec": spec.to_bytes(), **public_fields(holder.public_context())}


def _decrypt(message: Any, context: Any) -> dict[str, Any]:
    fields = read_fields(message, {"aggregate": bytes, "spec": bytes}, "the server")
    offered = RoundSpec.from_bytes(fields["spec"])
    result = _key_holder(context).decrypt_aggregate(EncryptedAggregate.from_bytes(fields["aggregate"]), offered)
    return {"result": result.to_bytes()}


def _aggregator_key(message: Any, context: Any) -> dict[str, Any]:
    key = _aggregator(context).key
    return {"name": key.name, "public_key": key.public_bytes}


def _share_sum(message: Any, context: Any) -> dict[str, Any]:
    fields = read_fields(message, {"round_id": str, "n_values": int, "clients": list, "sealed": list}, "the server")
    if len(fields["clients"]) != len(fields["sealed"]) or len(set(fields["clients"])) != len(fields["clients"]):
        raise CommunicationError("the server's client list and sealed shares disagree")
    sealed = dict(zip(fields["clients"], fields["sealed"]))
    return {"sum": _aggregator(context).sum(fields["round_id"], sealed, fields["n_values"])}


def _handler(role: str, work: Callable[..., dict[str, Any]]) -> Callable[[Any, Any], Any]:
    def handle(message: Any, context: Any) -> Any:
        try:
            if _role(context) != role:
                raise SecurityError(f"this node is a {_role(context)}, not a {role}: request refused")
            return reply(message, work(message, context))
        except HeLearnError as exc:
            return error_reply(message, exc)

    return handle


def make_client_app(task: FederatedTask) -> Any:
    """The ClientApp every he_learn SuperNode runs; its node config picks the role.

    It carries :func:`~he_learn.federated.flower.records.metrics_mod`, which
    measures only when the run config names a ``metrics-dir``.
    """
    from flwr.clientapp import ClientApp

    if not isinstance(task, FederatedTask):
        raise ParameterError("make_client_app needs a FederatedTask (initial_parameters, train, evaluate)")
    app = ClientApp(mods=[metrics_mod])

    @app.query("role")
    def role(message: Any, context: Any) -> Any:
        try:
            return reply(message, {"role": _role(context), "name": _client_id(context)})
        except HeLearnError as exc:
            return error_reply(message, exc)

    def train(message: Any, context: Any) -> Any:
        mode = message.content.config_records.get("he_learn", {}).get("mode", "he") if message.has_content() else "he"
        work = _train_shared if mode == "shared" else _train_he
        if _role(context) == "client":
            _maybe_drop_out(message, context)
        return _handler("client", lambda m, c: work(task, m, c))(message, context)

    app.train()(train)
    app.query("announce")(_handler("keyholder", _announce))
    app.query("decrypt")(_handler("keyholder", _decrypt))
    app.query("key")(_handler("aggregator", _aggregator_key))
    app.query("sum")(_handler("aggregator", _share_sum))
    return app
