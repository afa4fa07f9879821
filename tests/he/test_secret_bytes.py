"""A key holder's secret key at rest: KeyHolder.secret_bytes and from_secret_bytes,
for a key holder that runs as one process per request."""

from __future__ import annotations

import numpy as np
import pytest
import tenseal as ts

from he_learn.errors import CommunicationError, SecurityError
from he_learn.he.keys import KeyHolder
from he_learn.he.presets import AGGREGATION_ADDITIVE, AGGREGATION_COMPACT
from he_learn.he.seal_io import PUBLIC_KEY_FIELD, save_seal, set_context_keys


@pytest.fixture(scope="module")
def holder():
    return KeyHolder(AGGREGATION_COMPACT)


def test_round_trip_keeps_the_key(holder):
    ct = holder.public_context().engine().encrypt([0.5, -2.0])
    restored = KeyHolder.from_secret_bytes(AGGREGATION_COMPACT, holder.secret_bytes())
    assert restored.fingerprint == holder.fingerprint
    assert restored.release_budget.released == 0  # the budget lives beside the key, not in it
    np.testing.assert_allclose(restored.decrypt_internal(ct)[:2], [0.5, -2.0], atol=1e-4)
    assert KeyHolder.from_secret_bytes("aggregation-compact", holder.secret_bytes()).fingerprint == holder.fingerprint


@pytest.mark.parametrize("junk", [b"", b"not a context", b"\x0a\x05hello"])
def test_junk_is_refused(junk):
    with pytest.raises(CommunicationError):
        KeyHolder.from_secret_bytes(AGGREGATION_COMPACT, junk)
    with pytest.raises(CommunicationError):
        KeyHolder.from_secret_bytes(AGGREGATION_COMPACT, "text")  # type: ignore[arg-type]


def test_a_public_context_is_refused(holder):
    with pytest.raises(SecurityError, match="no secret key"):
        KeyHolder.from_secret_bytes(AGGREGATION_COMPACT, holder.public_context().data)


def test_other_parameters_are_refused(holder):
    with pytest.raises(SecurityError, match="not preset"):
        KeyHolder.from_secret_bytes(AGGREGATION_ADDITIVE, holder.secret_bytes())


def test_a_public_key_of_another_secret_key_is_refused(holder):
    other = KeyHolder(AGGREGATION_COMPACT)
    spliced = set_context_keys(holder.secret_bytes(), {PUBLIC_KEY_FIELD: save_seal(other.tenseal_context.data.public_key())})
    assert ts.context_from(spliced).is_private()  # TenSEAL loads it without complaint
    with pytest.raises(SecurityError, match="does not belong"):
        KeyHolder.from_secret_bytes(AGGREGATION_COMPACT, spliced)
