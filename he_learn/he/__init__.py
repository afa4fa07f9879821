"""The CKKS engine, on TenSEAL / Microsoft SEAL. The only package that imports tenseal.

Threat model: see docs/design.md roles 2 (HE training) and 3 (encrypted inference).
The key holder (data owner) keeps the secret key; every computing party gets a
:class:`~he_learn.he.public_context.PublicContext` and refuses a secret key. Bytes
from another process (envelopes, public contexts) end in a checked object or a
he_learn error ("Untrusted bytes" in docs/design.md).

Modules in dependency order:

- ``presets``: named parameter sets with their sources;
- ``flooding``: the noise-flooding rule and the per-key release budget;
- ``security``: the HE standard's 128-bit table, the no-secret-key rule, fingerprints;
- ``seal_io``: bytes in and out of SEAL objects, TenSEAL's protobuf messages;
- ``rns``: integer polynomials in SEAL's RNS/NTT form (plaintexts built from integers);
- ``ciphertext``: the encrypted value (level, exact scale, key fingerprint);
- ``evaluator``: arithmetic with level and scale accounting, rotations via ``tenseal.sealapi``;
- ``envelope``: the wire format of a ciphertext (header + stock TenSEAL payload), checked on load;
- ``public_context``: ``PublicContext``, what the computing party receives, checked on load;
- ``keys``: ``KeyHolder`` (makes public contexts with only the Galois keys a computation needs);
- ``release``: the one way a decryption leaves the key holder, noise-flooded;
- ``packed``: packed X @ w and X.T @ r (layout in ``he_learn.encoding.ckks_layout``);
- ``polynomial``: minimal-depth polynomial activations;
- ``coefficient_mask``: coefficient-domain refresh masks (the '*-masked-40' presets);
- ``refresh``: masked refresh through the key holder;
- ``training_spec``: a run's hyper-parameters and their wire form;
- ``role_messages``: the wire form of every trainer / key-holder message;
- ``key_holder_service``: the data owner's keys, data and the service it runs;
- ``trainer``: encrypted gradient descent, with the key holder as a remote service;
- ``training``: both roles, in one process or one each (``run_training``);
- ``inference``: encrypted prediction;
- ``tutorial_baseline``: TenSEAL Tutorial 1's per-sample loop, for benchmarks.

Import the submodules directly; this package module imports nothing itself.
"""

__all__: list[str] = []
