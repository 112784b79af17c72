"""The entry point `npx cdktf synth|deploy` runs (cdktf.json `app`): the project's venv and infra.main."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_cdktf_json_runs_the_thin_entry_point_inside_the_project_venv():
    config = json.loads((ROOT / "cdktf.json").read_text())
    assert config["language"] == "python"
    assert config["app"] == ".venv/bin/python -m infra.main"
    assert config["output"] == "cdktf.out"
    assert config["terraformProviders"] == []  # prebuilt bindings; nothing is generated or downloaded


def _entry(tmp_path, **env):
    return subprocess.run(
        [sys.executable, "-m", "infra.main"],
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
    assert result.returncode == 2 and result.stderr.strip() == f"{tmp_path / 'missing.whl'}: not a wheel file"
