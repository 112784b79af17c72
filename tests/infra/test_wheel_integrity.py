"""A built wheel is used only when complete: one build per checkout at a time, checked against the source."""

import shutil
import subprocess
import threading
import time
import zipfile
from pathlib import Path

import pytest

from infra.wheel import WheelBuildFailed, build_wheel
from infra.wheel_check import IncompleteWheel, check_wheel
from tests.wheels import source_tree_files, write_wheel

ROOT = Path(__file__).resolve().parents[2]
WHEEL = "churn-0.1.0-py3-none-any.whl"


@pytest.fixture
def project(tmp_path) -> Path:
    """A checkout's ml/ with a few modules (the fake builders below stage them as setuptools does)."""
    project = tmp_path / "ml"
    package = project / "src" / "churn"
    package.mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "churn"\nversion = "0.1.0"\n[tool.setuptools.package-data]\nchurn = ["py.typed"]\n'
    )
    for name in ("__init__.py", "cli.py", "features.py", "gate.py", "storage.py", "py.typed"):
        (package / name).write_text(f"# {name}\n")
    return project


def setuptools_like_builder(starts: list[float], ends: list[float], second_started: threading.Event):
    """Stages the package in <project>/build/bdist/wheel one file at a time, zips it, removes the staging: as
    setuptools' bdist_wheel does in the project's build/, whatever --outdir says. The first build pauses
    halfway until a second one has started, so two builds at once always overlap."""

    def build(argv, *, cwd, **kwargs):
        starts.append(time.monotonic())
        if len(starts) == 2:
            second_started.set()
        staging = Path(cwd) / "build" / "bdist" / "wheel"
        source = Path(cwd) / "src"
        files = sorted(source_tree_files(source))
        for number, name in enumerate(files):
            if len(starts) == 1 and number == len(files) // 2:
                second_started.wait(timeout=2)
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source / name, staging / name)
            time.sleep(0.01)
        staged = {
            p.relative_to(staging).as_posix(): p.read_bytes() for p in staging.rglob("*") if p.is_file()
        }
        write_wheel(Path(argv[argv.index("--outdir") + 1]) / WHEEL, staged)
        shutil.rmtree(Path(cwd) / "build" / "bdist", ignore_errors=True)
        ends.append(time.monotonic())
        return subprocess.CompletedProcess(argv, 0, "", "")

    return build


def test_two_builds_of_one_checkout_run_one_after_the_other_and_both_ship_every_file(
    project, tmp_path, monkeypatch
):
    """`synth --out a` while `deploy` runs: two builds of one ml/ into two dists. Both wheels are complete."""
    starts, ends, second_started = [], [], threading.Event()
    monkeypatch.setattr("infra.wheel.subprocess.run", setuptools_like_builder(starts, ends, second_started))
    results, errors = {}, []

    def build(name):
        try:
            results[name] = build_wheel(project_dir=project, dist=tmp_path / name)
        except Exception as exc:  # any failure fails the test below
            errors.append(exc)

    threads = [threading.Thread(target=build, args=(name,)) for name in ("synth-dist", "deploy-dist")]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert ends[0] <= starts[1], "the second build started while the first one was staging its files"
    expected = set(source_tree_files(project / "src"))
    for wheel in results.values():
        with zipfile.ZipFile(wheel) as archive:
            assert {n for n in archive.namelist() if ".dist-info/" not in n} == expected, wheel


@pytest.mark.parametrize("lost", ["churn/gate.py", "churn/py.typed"], ids=["module", "package-data"])
def test_a_wheel_missing_a_file_is_refused_and_never_reaches_dist(project, tmp_path, monkeypatch, lost):
    dist = tmp_path / "dist"
    dist.mkdir()
    previous = write_wheel(dist / WHEEL, source_tree_files(project / "src")).read_bytes()

    def short_builder(argv, **kwargs):
        files = source_tree_files(project / "src")
        del files[lost]
        write_wheel(Path(argv[argv.index("--outdir") + 1]) / WHEEL, files)
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr("infra.wheel.subprocess.run", short_builder)
    with pytest.raises(WheelBuildFailed) as failed:
        build_wheel(project_dir=project, dist=dist)
    assert str(failed.value) == (
        f"{project}: the built wheel is not usable: {WHEEL} lacks {lost} of {project / 'src'}"
    )
    assert sorted(p.name for p in dist.iterdir()) == [WHEEL]  # the previous, complete wheel, untouched
    assert (dist / WHEEL).read_bytes() == previous


def test_files_the_build_never_ships_are_not_required(project, tmp_path):
    (project / "src" / "churn" / "NOTES.md").write_text("not package data")  # not in package-data
    (project / "src" / "churn" / "__pycache__").mkdir()
    (project / "src" / "churn" / "__pycache__" / "cli.cpython-311.pyc").write_bytes(b"\0")
    files = source_tree_files(project / "src")
    del files["churn/NOTES.md"]
    check_wheel(write_wheel(tmp_path / WHEEL, files), project_dir=project)  # no exception


def test_a_wheel_whose_files_disagree_with_its_record_is_refused(project, tmp_path):
    wheel = write_wheel(tmp_path / WHEEL, source_tree_files(project / "src"))
    with zipfile.ZipFile(wheel) as archive:
        entries = {n: archive.read(n) for n in archive.namelist()}
    entries["churn/cli.py"] = entries["churn/cli.py"][:3]  # truncated after the RECORD was written
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    with pytest.raises(IncompleteWheel, match=r"churn/cli\.py does not match its RECORD hash"):
        check_wheel(wheel, project_dir=project)


def test_a_module_deleted_from_the_source_does_not_ride_along_from_an_earlier_build(tmp_path):
    """setuptools copies into ml/build/lib and never empties it: a module removed from src/ would still ship."""
    project = tmp_path / "ml"
    shutil.copytree(
        ROOT / "ml" / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    shutil.copy(ROOT / "ml" / "pyproject.toml", project / "pyproject.toml")
    retired = (
        project / "build" / "lib" / "churn" / "retired.py"
    )  # left by a build before the module was removed
    retired.parent.mkdir(parents=True)
    retired.write_text("raise RuntimeError('this module was deleted')\n")
    wheel = build_wheel(project_dir=project, dist=tmp_path / "dist")
    with zipfile.ZipFile(wheel) as archive:
        assert "churn/retired.py" not in archive.namelist()
        assert "churn/gate.py" in archive.namelist()
