"""The CKKS engine, on TenSEAL / Microsoft SEAL. The only package that imports tenseal.

Threat model: see DESIGN.md roles 2 (HE training) and 3 (encrypted inference).
The key holder (data owner) keeps the secret key; every computing party gets a
:class:`~he_learn.he.keys.PublicContext` and refuses a secret key.

Modules in dependency order:

- ``presets``: named parameter sets with their sources;
- ``security``: the HE standard's 128-bit table, the no-secret-key rule, fingerprints;
- ``seal_io``: bytes in and out of SEAL objects, TenSEAL's protobuf messages;
- ``ciphertext``: the encrypted value (level, exact scale, key fingerprint);
- ``evaluator``: arithmetic with level and scale accounting, rotations via ``tenseal.sealapi``;
- ``keys``: ``KeyHolder`` and ``PublicContext`` (only the Galois keys a computation needs);
- ``envelope``: the wire format (header + stock TenSEAL payload);
- ``packed``: packed X @ w and X.T @ r (layout in ``he_learn.encoding.ckks_layout``);
- ``polynomial``: minimal-depth polynomial activations;
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
