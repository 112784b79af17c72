"""The entry point `npx cdktf synth|deploy` runs (cdktf.json `app`): the project's venv and infra.main."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_cdktf_json_runs_the_thin_entry_point_inside_the_project_venv():
    config = json.loads((ROOT / "cdktf.json").read_text())
    assert config["language"] == "python"
    # -O: the bindings skip their Python-side type checks (the jsii kernel validates again); see infra/cli/main.py
    assert config["app"] == ".venv/bin/python -O -m infra.main"
    assert config["output"] == "cdktf.out"
    assert config["terraformProviders"] == []  # prebuilt bindings; nothing is generated or downloaded


def _entry(tmp_path, **env):
    return subprocess.run(
        [sys.executable, "-O", "-m", "infra.main"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "CDKTF_OUTDIR": str(tmp_path / "out"), **env},
    )


def test_entry_point_reports_a_bad_config_in_one_line_and_writes_nothing(tmp_path):
    bad = tmp_path / "platform.yaml"
    bad.write_text("platform: {prefix: dbp}\nteams: []\n")
    result = _entry(tmp_path, PLATFORM_CONFIG=str(bad))
    assert result.returncode == 2
    assert (
        result.stderr.strip().splitlines()[0]
        == f"{bad}: platform.deployer_principal: required key is missing"
    )
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_entry_point_needs_a_wheel(tmp_path):
    result = _entry(tmp_path, CHURN_WHEEL=str(tmp_path / "missing.whl"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"CHURN_WHEEL: {tmp_path / 'missing.whl'} is not a wheel file"


def test_optimized_entry_point_writes_exactly_what_the_type_checked_synth_writes(
    tmp_path, synthesized, fake_wheel
):
    """`python -O` only drops the bindings' Python-side type checks: every stack is byte for byte the same."""
    from conftest import SYNTH_TODAY  # the session synth's date (budget start month)

    result = _entry(
        tmp_path,
        PLATFORM_CONFIG=str(ROOT / "platform.yaml"),
        CHURN_WHEEL=str(fake_wheel),
        PLATFORM_SYNTH_DATE=SYNTH_TODAY.isoformat(),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (
        "DeprecationWarning" not in result.stderr
    )  # Node 22+ flags the AWS bindings' util.isArray (DEP0044)
    written = sorted(p.name for p in (tmp_path / "out" / "stacks").iterdir())
    assert written == synthesized.stack_names
    for stack in written:
        assert (tmp_path / "out" / "stacks" / stack / "cdk.tf.json").read_text() == synthesized.text(stack), (
            stack
        )


class Synth:
    def __init__(self):
        self.wheels = []

    def build_app(self, config, *, outdir, wheel):
        self.wheels.append(wheel)
        return self

    def synth(self):
        pass


def test_npx_cdktf_synth_builds_the_wheel_from_ml_unless_churn_wheel_names_one(
    tmp_path, monkeypatch, fake_wheel
):
    import infra.app
    import infra.main

    built = tmp_path / "dist" / "churn-0.1.0-py3-none-any.whl"
    builds = []
    monkeypatch.setattr(infra.main, "build_wheel", lambda: builds.append("ml/") or built)
    synth = Synth()
    monkeypatch.setattr(infra.app, "build_app", synth.build_app)
    monkeypatch.setenv("PLATFORM_CONFIG", str(ROOT / "platform.yaml"))
    monkeypatch.setenv("CDKTF_OUTDIR", str(tmp_path / "out"))
    infra.main.main()  # a fresh checkout, or dist/ older than ml/: never a stale wheel
    assert builds == ["ml/"] and synth.wheels == [built]
    monkeypatch.setenv("CHURN_WHEEL", str(fake_wheel))
    infra.main.main()
    assert builds == ["ml/"] and synth.wheels == [built, fake_wheel]


def test_npx_cdktf_synth_names_the_way_out_when_the_wheel_cannot_be_built(tmp_path, monkeypatch, capsys):
    import infra.main
    from infra.wheel import WheelBuildFailed

    def broken():
        raise WheelBuildFailed("building the churn wheel failed: SyntaxError in churn/train.py")

    monkeypatch.setattr(infra.main, "build_wheel", broken)
    monkeypatch.setenv("PLATFORM_CONFIG", str(ROOT / "platform.yaml"))
    with pytest.raises(SystemExit) as exited:
        infra.main.main()
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "building the churn wheel failed: SyntaxError in churn/train.py; fix ml/, or set CHURN_WHEEL to a built churn wheel"
    ]
