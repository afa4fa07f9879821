"""How roles talk: message framing, communicators, ledgers, launchers.

Filled in by the multi-process work; see the modules for their threat models.
"""
