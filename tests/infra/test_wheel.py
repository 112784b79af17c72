"""The churn wheel the workspace stacks deploy: built offline, byte-for-byte reproducible, found by synth."""

import hashlib
import subprocess
import zipfile
from pathlib import Path

import pytest

from infra.wheel import WheelBuildFailed, WheelNotFound, build_wheel, find_wheel
from tests.wheels import source_tree_files, write_wheel

ROOT = Path(__file__).resolve().parents[2]


def test_same_source_builds_the_same_bytes_so_unchanged_code_never_redeploys(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    first = build_wheel(project_dir=ROOT / "ml", dist=tmp_path / "a")
    second = build_wheel(project_dir=ROOT / "ml", dist=tmp_path / "b")
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
    with pytest.raises(WheelNotFound, match=r"^--wheel: .*churn.tar.gz is not a wheel file$"):
        find_wheel(tmp_path / "churn.tar.gz")


def test_a_broken_project_fails_with_the_builders_last_line(tmp_path):
    project = tmp_path / "broken"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "churn"\nversion = "not a version"\n')
    with pytest.raises(WheelBuildFailed, match=r"building the churn wheel failed: .*\S") as failed:
        build_wheel(project_dir=project, dist=tmp_path / "dist")
    assert "\n" not in str(failed.value)
    assert not list((tmp_path / "dist").glob("*.whl"))


def test_the_wheel_in_dist_stays_readable_while_another_build_runs(tmp_path, monkeypatch):
    """A command reading dist/ while another one builds (the ENOENT of two synths a few seconds apart) must
    find a complete wheel: the builder writes elsewhere and the new wheel replaces the old one in one rename."""
    dist = tmp_path / "dist"
    dist.mkdir()
    old = dist / "churn-0.1.0-py3-none-any.whl"
    old.write_bytes(b"old wheel")
    older_version = dist / "churn-0.0.9-py3-none-any.whl"
    older_version.write_bytes(b"older")
    seen_during_build = []

    new_wheel = write_wheel(tmp_path / old.name, source_tree_files(ROOT / "ml" / "src")).read_bytes()

    def builder(argv, **kwargs):
        seen_during_build.append(old.read_bytes())  # raises if the build removed it first
        outdir = Path(argv[argv.index("--outdir") + 1])
        assert outdir != dist and outdir.parent == dist  # private, and on dist's filesystem for the rename
        (outdir / old.name).write_bytes(new_wheel)
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr("infra.wheel.subprocess.run", builder)
    built = build_wheel(project_dir=ROOT / "ml", dist=dist)
    assert seen_during_build == [b"old wheel"]
    assert built == old and built.read_bytes() == new_wheel
    assert sorted(p.name for p in dist.iterdir()) == [old.name]  # no private build dir, no stale version


def test_the_wheel_is_built_from_the_project_root_whatever_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    builds = []

    def builder(argv, *, cwd, **kwargs):
        builds.append(Path(cwd))
        return subprocess.CompletedProcess(argv, 1, "", "stop here")

    monkeypatch.setattr("infra.wheel.subprocess.run", builder)
    with pytest.raises(WheelBuildFailed):
        build_wheel()
    assert builds == [ROOT / "ml"]
    assert list(tmp_path.iterdir()) == []  # no dist/ in the working directory
