"""A managed workload whose pyproject leaves its dependencies to the build (`dynamic = ["dependencies"]`, read by
setuptools from a requirements file) in an isolated env: the wheelhouse is computed from `[project].dependencies`,
which such a project does not have, so it came out empty, validate accepted it, and every job would fail at
library install (pip on a cluster without internet access going to PyPI for the wheel's real requirements).
Validate refuses it in one line naming the env's egress field and the workload."""

from __future__ import annotations

import shutil

from infra.config import load_config
from infra.config.offline_packages import offline_package_problems
from tests.infra.conftest import ROOT


def test_dynamic_dependencies_in_an_isolated_env_are_refused(tmp_path):
    shutil.copytree(ROOT / "ml" / "runtimes", tmp_path / "ml" / "runtimes")
    package = tmp_path / "scoring"
    package.mkdir()
    (package / "pyproject.toml").write_text(
        '[project]\nname = "scoring"\nversion = "1.0"\ndynamic = ["dependencies"]\n\n'
        '[tool.setuptools.dynamic]\ndependencies = {file = ["requirements.txt"]}\n'
    )
    (package / "requirements.txt").write_text("lightgbm>=4\n")
    config = load_config(ROOT / "platform.yaml")
    (risk,) = [team for team in config.teams if team.name == "risk"]
    churn = risk.managed_workloads[0]
    risk = risk.model_copy(update={"workloads": [churn.model_copy(update={"package": "scoring"})]})
    (line,) = offline_package_problems(config.platform, [risk], root=tmp_path)
    assert line.startswith("teams.risk.environments.prod.egress.mode: isolated clusters cannot reach PyPI")
    assert (
        "(churn, scoring) cannot be pinned: scoring/pyproject.toml declares its dependencies dynamic" in line
    )
