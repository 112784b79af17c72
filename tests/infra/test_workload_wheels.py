"""Any managed workload's package builds like churn's: its own wheel name, its own dist folder, checked against
its source (infra/wheel.py, infra/wheel_check.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from infra.wheel import WHEEL_GLOB, WheelBuildFailed, build_package_wheel, package_dist, wheel_glob

ROOT = Path(__file__).resolve().parents[2]
UPSELL = ROOT / "tests" / "fixtures" / "workloads" / "upsell"


def test_the_wheel_name_comes_from_the_packages_pyproject(tmp_path):
    assert wheel_glob(ROOT / "ml") == WHEEL_GLOB == "churn-*.whl"
    assert wheel_glob(UPSELL) == "upsell-*.whl"
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "Price-Elasticity.ML"\n')
    assert wheel_glob(tmp_path) == "price_elasticity_ml-*.whl"  # as wheel file names spell a distribution


def test_churn_builds_into_dist_and_any_other_package_into_its_own_folder(tmp_path, monkeypatch):
    monkeypatch.setattr("infra.project.project_root", lambda: tmp_path)
    assert package_dist("ml") == tmp_path / "dist"
    assert package_dist("teams/upsell/") == tmp_path / "dist" / "workloads" / "teams_upsell"


def test_a_package_wheel_is_built_checked_and_replaces_only_its_own_older_wheels(tmp_path, monkeypatch):
    monkeypatch.setattr("infra.project.project_root", lambda: tmp_path)
    shutil.copytree(
        UPSELL, tmp_path / "teams" / "upsell", ignore=shutil.ignore_patterns("build", "*.egg-info")
    )
    dist = package_dist("teams/upsell")
    dist.mkdir(parents=True)
    (dist / "upsell-0.0.9-py3-none-any.whl").write_bytes(b"older build")
    (tmp_path / "dist" / "churn-0.1.0-py3-none-any.whl").write_bytes(b"churn's, untouched")
    wheel = build_package_wheel("teams/upsell")
    assert wheel == dist / "upsell-0.1.0-py3-none-any.whl"
    assert sorted(p.name for p in dist.glob("*.whl")) == [wheel.name]
    assert (tmp_path / "dist" / "churn-0.1.0-py3-none-any.whl").read_bytes() == b"churn's, untouched"
    # Reproducible like churn's: the same source builds the same bytes, so its volume path does not move.
    first = wheel.read_bytes()
    assert build_package_wheel("teams/upsell").read_bytes() == first


def test_a_package_without_a_pyproject_fails_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr("infra.project.project_root", lambda: tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(WheelBuildFailed, match=r"no pyproject\.toml, so no wheel can be built there"):
        build_package_wheel("empty")
