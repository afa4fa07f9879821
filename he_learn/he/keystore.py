"""A key holder's secret key on its own disk, for a key holder that runs as one
process per request (a Flower ClientApp is started anew for every message).

Threat model: the file holds the CKKS secret key. It is written with mode 0600
in the key holder's own directory and never sent anywhere; whoever reads it is
the key holder. Loading checks the file against the parameter set and that it
really carries a secret key, and recomputes the fingerprint from the key in it.

Stopgap for the merge: the two functions below belong on
:class:`~he_learn.he.keys.KeyHolder` (``secret_bytes()`` and a
``from_secret_bytes`` class method); :class:`_RestoredKeyHolder` repeats
``KeyHolder.__init__`` from a saved context until they do.
"""

from __future__ import annotations

import os
from pathlib import Path

import tenseal as ts
import tenseal.sealapi as sealapi

from he_learn.errors import CommunicationError, SecurityError
from he_learn.he.keys import KeyHolder
from he_learn.he.presets import CkksParameters, get_preset
from he_learn.he.security import check_security, fingerprint_bytes
from he_learn.he.seal_io import save_seal

__all__ = ["save_key_holder", "load_key_holder"]


class _RestoredKeyHolder(KeyHolder):
    """A KeyHolder whose context comes from a saved serialisation, not a fresh key."""

    def __init__(self, params: CkksParameters, data: bytes) -> None:  # noqa: D107 -- mirrors KeyHolder.__init__
        self.params = params
        check_security(self.params)
        try:
            self._context = ts.context_from(data)
        except Exception as exc:  # TenSEAL raises bare ValueError/RuntimeError on bad bytes
            raise CommunicationError(f"the key file does not hold a TenSEAL context: {exc}") from None
        if not self._context.is_private():
            raise SecurityError("the key file holds no secret key")
        if self._context.data.seal_context().key_context_data().parms().poly_modulus_degree() != params.poly_modulus_degree:
            raise SecurityError(f"the key file was made for other parameters than {params.name!r}")
        self._context.global_scale = self.params.scale
        self.fingerprint = fingerprint_bytes(save_seal(self._context.data.public_key()))
        self._engine = None
        self._decryptor = sealapi.Decryptor(self._context.data.seal_context(), self._context.data.secret_key())
        self._symmetric = sealapi.Encryptor(self._context.data.seal_context(), self._context.data.secret_key())
        self._encoder = sealapi.CKKSEncoder(self._context.data.seal_context())


def save_key_holder(holder: KeyHolder, path: str | os.PathLike[str]) -> Path:
    """Write ``holder``'s secret context to ``path`` (mode 0600, atomically)."""
    if not isinstance(holder, KeyHolder):
        raise SecurityError("only a KeyHolder has a secret key to save")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    data = holder.tenseal_context.serialize(save_secret_key=True, save_galois_keys=False, save_relin_keys=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)
    return path


def load_key_holder(path: str | os.PathLike[str], params: CkksParameters | str) -> KeyHolder:
    """The key holder saved at ``path`` with :func:`save_key_holder`."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CommunicationError(f"cannot read the key file {path}: {exc}") from None
    return _RestoredKeyHolder(get_preset(params), data)
