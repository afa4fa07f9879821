"""A real Flower deployment on loopback: one SuperLink, SuperNodes, ``flwr run``.

Threat model: a test and benchmark harness, not a production launcher. Every
process listens on 127.0.0.1 only, on ports chosen free by the operating
system, and runs ``--insecure`` (no TLS): the deployment it stands for must be
on a private network or behind WireGuard or an SSH tunnel (docs/design.md,
"Channels"). Flower's deployment runtime needs no Ray. Runtime dependency
installation (``uv sync``) is off: the apps run in this Python environment.

:class:`LocalDeployment` is a context manager. It starts ``flower-superlink``
and one ``flower-supernode`` per node config, each in its own process group,
waits (bounded) until each listens, runs apps with ``flwr run``, and on exit,
also after a failure, ends every process it started and every descendant
(SuperExec, ServerApp and ClientApp processes start their own sessions, so
they are found through /proc before anything is signalled), first with
SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from he_learn.errors import CommunicationError, ParameterError

__all__ = ["LocalDeployment", "write_app", "free_port", "descendants"]

_READY_TIMEOUT = 60.0
_STOP_GRACE = 5.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (Linux /proc), children first."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value))


def write_app(directory: str | os.PathLike[str], module: str | os.PathLike[str], config: Mapping[str, Any],
              *, name: str = "helearnapp", server: str = "server_app", client: str = "client_app") -> Path:
    """A Flower App directory: ``module`` (a .py file defining the ServerApp
    ``server`` and the ClientApp ``client``) copied in, and a pyproject.toml whose
    run config is ``config``."""
    directory, module = Path(directory), Path(module)
    if module.suffix != ".py" or not module.is_file():
        raise ParameterError(f"{module} is not a Python module file")
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(module, directory / module.name)
    lines = [
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n',
        f'[project]\nname = "{name}"\nversion = "1.0.0"\ndescription = "he_learn on Flower"\nlicense = "Apache-2.0"\n'
        "dependencies = []\n",
        '[tool.hatch.build.targets.wheel]\npackages = ["."]\n',
        '[tool.flwr.app]\npublisher = "helearn"\n',
        f'[tool.flwr.app.components]\nserverapp = "{module.stem}:{server}"\nclientapp = "{module.stem}:{client}"\n',
        "[tool.flwr.app.config]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in config.items()),
    ]
    (directory / "pyproject.toml").write_text("\n".join(lines))
    return directory


class LocalDeployment:
    """SuperLink + SuperNodes on loopback (see the module doc); use as ``with``."""

    def __init__(self, node_configs: Sequence[Mapping[str, Any]], home: str | os.PathLike[str]) -> None:
        if not node_configs:
            raise ParameterError("a deployment needs at least one SuperNode")
        self.node_configs = [dict(c) for c in node_configs]
        self.home = Path(home)
        self._bin = Path(sys.executable).parent
        self._processes: list[subprocess.Popen[bytes]] = []
        self._logs: list[Path] = []
        self.superlink_port = 0

    # -- processes ---------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{self._bin}{os.pathsep}{env.get('PATH', '')}"  # flower-superexec is looked up on PATH
        env["FLWR_HOME"] = str(self.home / "flwr")
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _start(self, name: str, argv: list[str]) -> None:
        log = self.home / f"{name}.log"
        self._logs.append(log)
        with open(log, "wb") as out:
            self._processes.append(subprocess.Popen(
                [str(self._bin / argv[0]), *argv[1:]], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self._env(), cwd=self.home, start_new_session=True,
            ))

    def _wait_listening(self, port: int, what: str) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT
        while not _listening(port):
            if any(p.poll() is not None for p in self._processes):
                raise CommunicationError(f"{what} exited before it listened:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise CommunicationError(f"{what} did not listen on port {port} within {_READY_TIMEOUT:g} s")
            time.sleep(0.2)

    def __enter__(self) -> "LocalDeployment":
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            (self.home / "flwr").mkdir(exist_ok=True)
            self.superlink_port = free_port()
            (self.home / "flwr" / "config.toml").write_text(
                f'[superlink]\ndefault = "loopback"\n\n[superlink.loopback]\n'
                f'address = "127.0.0.1:{self.superlink_port}"\ninsecure = true\n'
            )
            self._start("superlink", ["flower-superlink", "--insecure", "--disable-runtime-dependency-installation",
                                      "--host", "127.0.0.1", "--port", str(self.superlink_port)])
            self._wait_listening(self.superlink_port, "the SuperLink")
            for index, config in enumerate(self.node_configs):
                port = free_port()
                pairs = " ".join(f"{k}={_toml_value(v)}" for k, v in config.items())
                self._start(f"supernode{index}", ["flower-supernode", "--insecure", "--superlink",
                                                  f"127.0.0.1:{self.superlink_port}", "--host", "127.0.0.1",
                                                  "--port", str(port), "--node-config", pairs])
                self._wait_listening(port, f"SuperNode {index}")
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def stop(self) -> None:
        """End every started process and its descendants (idempotent)."""
        tracked = [p.pid for p in self._processes]
        for pid in list(tracked):
            tracked += descendants(pid)
        for pid in tracked:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_GRACE
        for process in self._processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for pid in tracked:
            _signal(pid, signal.SIGKILL)
        for process in self._processes:
            try:
                process.wait(timeout=_STOP_GRACE)
            except subprocess.TimeoutExpired:
                pass
        self._processes.clear()

    def alive(self) -> list[int]:
        return [p.pid for p in self._processes if p.poll() is None]

    def log_tail(self, lines: int = 30) -> str:
        out = []
        for log in self._logs:
            if log.exists():
                text = log.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(out)

    # -- runs ---------------------------------------------------------------------
    def run(self, app_dir: str | os.PathLike[str], result_path: str | os.PathLike[str], *,
            timeout: float = 600.0) -> dict[str, Any]:
        """``flwr run`` an app (bounded by ``timeout``) and return the JSON its ServerApp wrote."""
        result_path = Path(result_path)
        result_path.unlink(missing_ok=True)
        command = [str(self._bin / "flwr"), "run", str(app_dir), "loopback", "--stream"]
        try:
            finished = subprocess.run(command, env=self._env(), cwd=self.home, capture_output=True, timeout=timeout,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
        except subprocess.TimeoutExpired:
            raise CommunicationError(f"flwr run did not finish within {timeout:g} s:\n{self.log_tail()}") from None
        (self.home / "flwr-run.log").write_bytes(finished.stdout + finished.stderr)
        if not result_path.exists():
            tail = (finished.stdout + finished.stderr).decode(errors="replace")[-3000:]
            raise CommunicationError(f"the run wrote no result (exit {finished.returncode}):\n{tail}\n{self.log_tail()}")
        return json.loads(result_path.read_text())


def _signal(pid: int, sig: int) -> None:
    for target in (lambda: os.killpg(pid, sig), lambda: os.kill(pid, sig)):
        try:
            target()
        except (ProcessLookupError, PermissionError):
            pass
