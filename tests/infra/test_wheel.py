"""The churn wheel the workspace stacks deploy: built offline, byte-for-byte reproducible, found by synth."""

import hashlib
import zipfile
from pathlib import Path

import pytest

from infra.wheel import WheelNotFound, build_wheel, find_wheel

ROOT = Path(__file__).resolve().parents[2]


def test_same_source_builds_the_same_bytes_so_unchanged_code_never_redeploys(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    first = build_wheel(project=ROOT / "ml", dist=tmp_path / "a")
    second = build_wheel(project=ROOT / "ml", dist=tmp_path / "b")
    assert first.name == second.name and first.name.startswith("churn-") and first.suffix == ".whl"
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    with zipfile.ZipFile(first) as wheel:
        names = wheel.namelist()
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "churn = churn.cli:main" in wheel.read(entry_points).decode()
    assert "churn/cli.py" in names


def test_find_wheel_takes_the_newest_in_dist_or_explains(tmp_path):
    with pytest.raises(WheelNotFound, match="no churn wheel; run `make wheel`"):
        find_wheel(dist=tmp_path)
    with pytest.raises(WheelNotFound, match="not a wheel file"):
        find_wheel(tmp_path / "churn.tar.gz")


def test_a_broken_project_fails_with_the_builders_last_line(tmp_path):
    from infra.wheel import WheelBuildFailed

    project = tmp_path / "broken"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "churn"\nversion = "not a version"\n')
    with pytest.raises(WheelBuildFailed, match=r"building the churn wheel failed: .*\S") as failed:
        build_wheel(project=project, dist=tmp_path / "dist")
    assert "\n" not in str(failed.value)
    assert not list((tmp_path / "dist").glob("*.whl"))
