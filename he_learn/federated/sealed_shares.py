"""The key-free path across processes: additive shares, each sealed to its aggregator.

Threat model: n >= 2 aggregators are honest-but-curious and do not collude with
each other or with the server; the server (on Flower, the SuperLink and the
ServerApp) routes every message and is honest-but-curious too. A client splits
its fixed-point vector ``[w * update, w, 1 / max_clients]`` (the same weighting
as the CKKS path, :mod:`he_learn.federated.spec`) into n additive shares over
Z_2^64 drawn from its own ``he_learn._native.Csprng``; any n - 1 of them are
uniformly random. Because the server carries the shares, each is *sealed* to its
aggregator: an ephemeral X25519 key agreement with the aggregator's public key,
HKDF-SHA256, then AES-256-GCM with the round, client and aggregator as
associated data (RFC 7748, RFC 5869, NIST SP 800-38D; all from the
``cryptography`` package, nothing home-made). The server sees ciphertexts only
and cannot move a share to another round, client or aggregator undetected. The
aggregators' public keys reach the clients through the server: a server that
swapped them (an active attack) would read the shares, so a deployment pins
them out of band if that matters. Each aggregator sums the shares of the client
set the server names, once per round (a second sum over other clients would
hand the server one share's difference), and the server adds the n sums: it
learns the FedAvg of those clients and nothing else. The price: n uploads per
client, and every aggregator must answer (an aggregator dropout loses the round;
client dropouts cost nothing).

Protocol per round:
1. each aggregator publishes an X25519 public key;
2. each client encodes its vector, splits it into n shares, seals share i to
   aggregator i and uploads the n sealed shares to the server;
3. the server forwards to aggregator i the sealed shares addressed to it, with
   the set of clients whose uploads arrived;
4. aggregator i opens and sums them (wrapping mod 2^64) and returns its sum;
5. the server adds the n sums, decodes, and divides by the weight slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from he_learn._native import Csprng
from he_learn.comm import wire
from he_learn.encoding.fixed_point import FixedPointEncoder
from he_learn.errors import CommunicationError, ParameterError, PrecisionError, ProtocolError, SecurityError
from he_learn.federated.registry import RoundRegistry

__all__ = [
    "SHARE_ENCODER",
    "AggregatorKey",
    "seal_share",
    "split_update",
    "SealedShareSum",
    "combine_sums",
]

# 32 fractional bits (the CKKS aggregation preset's resolution); additions only,
# so 31 integer bits beside the sign bit.
SHARE_ENCODER = FixedPointEncoder(fractional_bits=32, integer_bits=31)
SEALED_MAGIC = b"HLSS"
SUM_KIND = "federated-share-sum"
_VERSION = 1
_INFO = b"he_learn sealed share v1"
_KEY_BYTES = 32
_NONCE_BYTES = 12


def _crypto() -> Any:
    """The ``cryptography`` primitives, imported when a share is sealed or opened."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return InvalidTag, hashes, X25519PrivateKey, X25519PublicKey, AESGCM, HKDF


def _aead_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    _, hashes, _, _, _, hkdf = _crypto()
    return hkdf(algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient, info=_INFO).derive(shared)


def _aad(round_id: str, client_id: str, aggregator: str) -> bytes:
    return wire.dump_frame(SEALED_MAGIC, _VERSION, {"round": round_id, "client": client_id, "aggregator": aggregator})


class AggregatorKey:
    """An aggregator's X25519 key pair (the private half never leaves this object).

    ``private_bytes`` restores a key an aggregator saved in its own directory.
    """

    def __init__(self, name: str, private_bytes: bytes | None = None) -> None:
        if not isinstance(name, str) or not name:
            raise ParameterError("an aggregator needs a non-empty name")
        _, _, private_cls, _, _, _ = _crypto()
        if private_bytes is None:
            # OpenSSL's generator, inside the cryptography package's key generation.
            self._private = private_cls.generate()
        else:
            if not isinstance(private_bytes, bytes) or len(private_bytes) != _KEY_BYTES:
                raise ParameterError("an X25519 private key is 32 bytes")
            self._private = private_cls.from_private_bytes(private_bytes)
        self.name = name
        self.public_bytes = self._private.public_key().public_bytes_raw()

    def __repr__(self) -> str:
        return f"AggregatorKey({self.name!r}, public={self.public_bytes.hex()[:8]})"

    def private_bytes(self) -> bytes:
        """For the aggregator's own key file only."""
        return self._private.private_bytes_raw()

    def open(self, sealed: Any, *, round_id: str, client_id: str) -> np.ndarray:
        """The int64 share inside ``sealed``, or ``SecurityError`` if it was not sealed
        to this aggregator for this round and client (or was altered)."""
        invalid_tag, _, _, public_cls, aesgcm, _ = _crypto()
        frame = wire.load_frame(sealed, SEALED_MAGIC, _VERSION)
        if frame.header != {"round": round_id, "client": client_id, "aggregator": self.name} or len(frame.chunks) != 3:
            raise SecurityError(
                f"a sealed share for {str(frame.header)[:120]} reached aggregator {self.name!r} in round {round_id!r} "
                f"for client {client_id!r}"
            )
        ephemeral, nonce, body = frame.chunks
        if len(ephemeral) != _KEY_BYTES or len(nonce) != _NONCE_BYTES or len(body) % 8 != 0 or len(body) < 16 + 8:
            raise CommunicationError("a sealed share has malformed key, nonce or body lengths")
        shared = self._private.exchange(public_cls.from_public_bytes(ephemeral))
        key = _aead_key(shared, ephemeral, self.public_bytes)
        try:
            plain = aesgcm(key).decrypt(nonce, body, _aad(round_id, client_id, self.name))
        except invalid_tag:
            raise SecurityError(f"a sealed share for aggregator {self.name!r} fails authentication") from None
        return np.frombuffer(plain, dtype="<i8").astype(np.int64)


def seal_share(share: np.ndarray, recipient: bytes, *, round_id: str, client_id: str, aggregator: str,
               csprng: Csprng) -> bytes:
    """Seal one int64 share to ``recipient`` (an aggregator's X25519 public key)."""
    _, _, private_cls, public_cls, aesgcm, _ = _crypto()
    if not isinstance(recipient, bytes) or len(recipient) != _KEY_BYTES:
        raise ParameterError("an aggregator's public key is 32 bytes")
    ephemeral = private_cls.generate()
    ephemeral_public = ephemeral.public_key().public_bytes_raw()
    key = _aead_key(ephemeral.exchange(public_cls.from_public_bytes(recipient)), ephemeral_public, recipient)
    nonce = csprng.bytes(_NONCE_BYTES)  # a fresh key per share: the nonce need only be well-formed
    body = aesgcm(key).encrypt(nonce, np.ascontiguousarray(share, dtype="<i8").tobytes(),
                               _aad(round_id, client_id, aggregator))
    return wire.dump_frame(SEALED_MAGIC, _VERSION, {"round": round_id, "client": client_id, "aggregator": aggregator},
                           [ephemeral_public, nonce, body])


def split_update(update: Any, n_samples: int, *, max_samples: int, max_clients: int, n_aggregators: int,
                 csprng: Csprng | None = None) -> list[np.ndarray]:
    """Step 2: the n additive shares of ``[w * update, w, 1 / max_clients]``."""
    values = np.asarray(update, dtype=np.float64).reshape(-1) if np.ndim(update) else None
    if values is None or values.size == 0 or not np.all(np.isfinite(values)):
        raise ParameterError("an update is a non-empty array of finite values")
    for name, value in (("max_samples", max_samples), ("max_clients", max_clients), ("n_aggregators", n_aggregators)):
        if isinstance(value, bool) or not isinstance(value, int) or value < (2 if name == "n_aggregators" else 1):
            raise ParameterError(f"{name} must be a positive integer (n_aggregators >= 2), not {value!r}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or not 1 <= n_samples <= max_samples:
        raise ParameterError(f"n_samples must be an integer in [1, {max_samples}], not {n_samples!r}")
    if float(np.max(np.abs(values))) >= SHARE_ENCODER.max_abs / 2:
        raise PrecisionError(f"update values must stay below {SHARE_ENCODER.max_abs / 2:g} in magnitude")
    weight = n_samples / (max_samples * max_clients)
    encoded = SHARE_ENCODER.encode(np.concatenate([values * weight, [weight, 1.0 / max_clients]]))
    rng = csprng if csprng is not None else Csprng()
    shares = [rng.ring(encoded.shape) for _ in range(n_aggregators - 1)]
    last = encoded.copy()
    for share in shares:
        last -= share  # int64 wraps mod 2^64: the ring's subtraction
    return [last, *shares]


class SealedShareSum:
    """Step 4 at one aggregator: open and sum the shares of the named clients, once per round."""

    def __init__(self, key: AggregatorKey, registry: RoundRegistry | None = None) -> None:
        if not isinstance(key, AggregatorKey):
            raise ParameterError("a SealedShareSum needs the aggregator's AggregatorKey")
        self.key = key
        # The aggregator's own memory of summed rounds (a file for one process per message).
        self._registry = registry if registry is not None else RoundRegistry()

    def sum(self, round_id: str, sealed: Mapping[str, bytes], n_values: int) -> bytes:
        """The wire frame of this aggregator's sum over ``sealed`` (client id -> sealed share)."""
        if len(sealed) < 2:
            raise SecurityError("an aggregator sums the shares of at least 2 clients")
        self._registry.register(round_id, {"role": "share-sum", "n_values": n_values})
        self._registry.claim_decryption(round_id)  # one sum per round, claimed before any share is opened
        total = np.zeros(n_values + 2, dtype=np.int64)
        for client_id, data in sealed.items():
            share = self.key.open(data, round_id=round_id, client_id=client_id)
            if share.shape != total.shape:
                raise ProtocolError(f"client {client_id!r}'s share holds {share.size} values, the round {total.size}")
            total += share
        return wire.pack_arrays(SUM_KIND, [total], round_id=round_id, aggregator=self.key.name,
                                client_ids=sorted(sealed))


@dataclass(frozen=True)
class CombinedSum:
    """Step 5's result: the FedAvg of ``client_ids`` and their weight sum."""

    client_ids: tuple[str, ...]
    average: np.ndarray
    weight_sum: float


def combine_sums(sums: Sequence[bytes], *, round_id: str, aggregators: Sequence[str], max_clients: int) -> CombinedSum:
    """Step 5 at the server: every aggregator's sum over the same clients, added and decoded."""
    found: dict[str, np.ndarray] = {}
    clients = None
    for data in sums:
        fields, arrays = wire.unpack_arrays(data, SUM_KIND)
        if fields.get("round_id") != round_id or len(arrays) != 1 or arrays[0].dtype != np.int64:
            raise ProtocolError("a share sum of another round, or malformed")
        names = fields.get("client_ids")
        if clients is None:
            clients = names
        if names != clients or fields.get("aggregator") in found:
            raise ProtocolError("the aggregators summed different client sets, or one answered twice")
        found[str(fields.get("aggregator"))] = arrays[0]
    if sorted(found) != sorted(aggregators):
        raise ProtocolError(f"sums from {sorted(found)}; the round needs every aggregator of {sorted(aggregators)}")
    total = np.zeros_like(next(iter(found.values())))
    for part in found.values():
        total = total + part
    decoded = SHARE_ENCODER.decode(total)
    weight_sum, count = float(decoded[-2]), float(decoded[-1]) * max_clients
    if not isinstance(clients, list) or abs(count - len(clients)) > 0.25 or weight_sum <= 0:
        raise SecurityError("the opened count or weight slot disagrees with the clients named: a share was corrupted")
    return CombinedSum(tuple(clients), decoded[:-2] / weight_sum, weight_sum)
