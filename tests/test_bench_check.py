from __future__ import annotations

import json

from he_learn.bench.check import main, problems
from he_learn.bench.records import Record, write_json


def test_well_formed_records_pass(tmp_path) -> None:
    records = [
        Record("matmul", "native", "time", 0.05, "s", baseline=0.3, ratio=0.3 / 0.05),
        Record("csprng", "native", "throughput", 4.0, "GB/s", baseline=0.5, ratio=4.0 / 0.5),
        Record("xor", "smpc", "accuracy", 1.0, "fraction"),
    ]
    path = write_json(records, tmp_path / "out.json")
    assert main([str(path)]) == 0


def test_problems_are_reported() -> None:
    bad = [
        {"name": "x", "backend": "smpc", "metric": "time", "value": 1.0},  # no unit
        {"name": "y", "backend": "smpc", "metric": "time", "value": 2.0, "unit": "s", "ratio": 3.0},
        {"name": "z", "backend": "smpc", "metric": "time", "value": 2.0, "unit": "s", "baseline": 4.0, "ratio": 3.0},
        {"name": "w", "backend": "smpc", "metric": "time", "value": float("nan"), "unit": "s"},
    ]
    found = problems(json.loads(json.dumps(bad)))
    assert any("missing 'unit'" in p for p in found)
    assert any("come together" in p for p in found)
    assert any("ratio 3.0 is not 2.0" in p for p in found)
    assert any("not finite" in p for p in found)
    assert problems([]) and problems({"a": 1})


def test_run_script_writes_checkable_json_and_refuses_bad_paths(tmp_path, capsys) -> None:
    import pytest

    from he_learn.bench.script import run_script

    calls: list[bool] = []

    def fake_run(quick: bool) -> list[Record]:
        calls.append(quick)
        return [Record("k", "native", "time", 2.0, "s", baseline=4.0, ratio=2.0)]

    out = tmp_path / "r.json"
    kwargs = {"prog": "x", "description": "d", "quick_help": "q"}
    assert run_script(fake_run, ["--quick", "--json", str(out)], **kwargs) == 0
    assert calls == [True] and main([str(out)]) == 0
    assert "k" in capsys.readouterr().out
    # A destination that cannot be written is refused before anything runs.
    with pytest.raises(SystemExit):
        run_script(fake_run, ["--json", str(tmp_path / "missing" / "r.json")], **kwargs)
    assert calls == [True]
