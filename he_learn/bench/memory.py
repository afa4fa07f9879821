"""Peak memory of a block of code: the rise of the process's resident-set high-water mark.

``PeakMemory`` resets Linux's ``VmHWM`` through ``/proc/self/clear_refs`` on entry and
reads it on exit. Unlike ``tracemalloc`` it sees C++ allocations (SEAL, the native
kernels). Run in a fresh process it is not masked by memory an earlier job freed but
kept; in a process that already ran other work it is a lower bound. Where the files
are missing (not Linux, or a kernel before 4.0) it measures nothing: ``delta`` stays
``None``.

Every benchmark that reports ``peak_memory`` measures it with this one class (the
harness for the backends, the tutorial baseline for TenSEAL's loop).

Threat model: none; it reads this process's own counters.
"""

from __future__ import annotations

__all__ = ["PeakMemory", "peak_memory_supported"]


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def peak_memory_supported() -> bool:
    return _status_kib("VmHWM") is not None and _reset_peak()


class PeakMemory:
    """Context manager: bytes by which the RSS high-water mark rose inside it."""

    def __enter__(self) -> PeakMemory:
        self.supported = _reset_peak()
        self.start = _status_kib("VmRSS") if self.supported else None
        self.delta: int | None = None
        return self

    def __exit__(self, *exc: object) -> None:
        peak = _status_kib("VmHWM")
        if self.start is not None and peak is not None:
            self.delta = max(0, peak - self.start) * 1024
