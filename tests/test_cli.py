"""The he-learn console script: the demo's story, its plot, bench forwarding, errors."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

from he_learn.cli import main
from he_learn.models import registry

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_ckks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ckks unavailable, so "all" stays quick and the skip path is exercised."""
    monkeypatch.setattr(registry, "_BACKEND_MODULES",
                        {**registry._BACKEND_MODULES, "ckks": "he_learn.models.no_such_backend_for_tests"})


def test_demo_plain_prints_the_story_and_plots(tmp_path, capsys) -> None:
    plot = tmp_path / "loss.png"
    assert main(["demo", "--backend", "plain", "--plot", str(plot), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "== 1." in out and "== 2. Learning XOR while encrypted ==" in out
    assert "step   0  sum|grad| = 2.000" in out
    for step in (50, 100, 150, 200):
        assert f"step {step:3d}  sum|grad| = " in out
    assert "step 250" not in out
    assert "4/4 correct" in out and "bytes exchanged 0 B" in out
    assert plot.read_bytes().startswith(PNG_SIGNATURE)
    assert plot.stat().st_size > 10_000  # a drawn figure, not an empty canvas


def test_demo_loss_lines_fall(capsys) -> None:
    main(["demo", "--backend", "plain", "--no-progress"])
    losses = [float(line.rsplit("=", 1)[1]) for line in capsys.readouterr().out.splitlines()
              if "sum|grad| =" in line]
    assert losses[0] == 2.0 and losses == sorted(losses, reverse=True) and len(set(losses)) == len(losses)


def test_demo_all_skips_unavailable_backends_with_a_line(no_ckks, tmp_path, capsys) -> None:
    plot = tmp_path / "all.png"
    status = main(["demo", "--plot", str(plot), "--no-progress"])
    out = capsys.readouterr().out
    assert status == 0
    assert "-- plain:" in out and "-- smpc:" in out and "-- ckks:" in out
    assert "skipped: backend 'ckks' is not available" in out
    assert plot.read_bytes().startswith(PNG_SIGNATURE)
    if registry.backend_status(("smpc",))["smpc"] is None:
        assert out.count("4/4 correct") == 2 and "backend  correct" in out  # the side-by-side table


def test_demo_steps_and_log_every(capsys) -> None:
    assert main(["demo", "--backend", "plain", "--steps", "60", "--log-every", "20", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[1] for line in out.splitlines() if "sum|grad|" in line] == ["0", "20", "40"]


def test_demo_toy_options_reach_the_toy(capsys) -> None:
    pytest.importorskip("he_learn.smpc.toy")
    assert main(["demo", "--backend", "plain", "--parties", "4", "--modulus", "97", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "97" in out and "4 parties" in out


def test_demo_smpc_parties(capsys) -> None:
    if registry.backend_status(("smpc",))["smpc"] is not None:
        pytest.skip("smpc backend not available")
    assert main(["demo", "--backend", "smpc", "--parties", "3", "--steps", "50", "--no-progress"]) == 0
    assert "4/4 correct" in capsys.readouterr().out


def test_unavailable_backend_is_a_one_line_error(no_ckks, capsys) -> None:
    assert main(["demo", "--backend", "ckks", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("he-learn: error: BackendUnavailableError: backend 'ckks' is not available")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_debug_shows_the_exception(no_ckks) -> None:
    from he_learn.errors import BackendUnavailableError

    with pytest.raises(BackendUnavailableError):
        main(["--debug", "demo", "--backend", "ckks"])


def test_bad_plot_path_is_a_clear_error(tmp_path, capsys) -> None:
    assert main(["demo", "--backend", "plain", "--plot", str(tmp_path / "loss.jpg")]) == 1
    captured = capsys.readouterr()
    assert "must end in .png" in captured.err
    assert "sum|grad|" not in captured.out  # refused before any training
    assert main(["demo", "--backend", "plain", "--plot", str(tmp_path / "missing" / "loss.png")]) == 1
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [["demo", "--steps", "0"], ["demo", "--steps", "x"], ["demo", "--backend", "gpu"], ["demo", "--parties", "1"],
     ["demo", "--modulus", "1"], ["demo", "--bogus"], ["fly"]],
)
def test_usage_errors_exit_2(argv, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_no_command_prints_help(capsys) -> None:
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_bench_forwards_every_argument(monkeypatch) -> None:
    seen: list[list[str]] = []
    stub = types.ModuleType("he_learn.bench.run")
    stub.main = lambda argv: seen.append(list(argv)) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "he_learn.bench.run", stub)
    assert main(["bench", "--quick", "--json", "out.json", "--help"]) == 0
    assert seen == [["--quick", "--json", "out.json", "--help"]]


def test_bench_without_runner_says_so(monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "he_learn.bench.run", None)  # importing it now fails
    assert main(["bench", "--quick"]) == 2
    assert "not part of this build" in capsys.readouterr().err


def test_module_entry_point_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "he_learn.cli", "demo", "--backend", "plain", "--steps", "50", "--no-progress"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
        env={**__import__("os").environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    assert "step   0  sum|grad| = 2.000" in result.stdout


def test_demo_ckks_reports_refreshes(capsys) -> None:
    if registry.backend_status(("ckks",))["ckks"] is not None:
        pytest.skip("ckks backend not available")
    status = main(["demo", "--backend", "ckks", "--steps", "10", "--log-every", "5", "--no-progress"])
    out = capsys.readouterr().out
    # Ten steps may not separate XOR yet; the exit status must say whether they did.
    assert status == (0 if "4/4 correct" in out else 1)
    assert "step   0  sum|grad| = 2.000" in out
    assert "refreshes" in out and "interactive round with the key holder" in out
