"""Isolated envs install their workloads' wheelhouse from the artifact volume, in dependency order, before the
workload's wheel; validate refuses a wheelhouse that cannot be pinned; the deploy dry run shows the fetch.

Order is the point. A cluster with no internet access pip-installs a task's libraries one after the other: a
library whose requirement is not installed yet makes pip go to PyPI and the install fails. databrickslabs/ucx
issue 1795 / PR 1796 (Databricks Labs installing its dependency wheels on no-internet workspaces as task libraries)
is that failure: `lsql` listed before `sqlglot`, which it requires, failed; the fix reordered the libraries. The
order reaches the Jobs API because databricks/terraform-provider-databricks v1.99.0 jobs/resource_job.go declares a
task's `Libraries []compute.Library` with `tf:"alias:library"`, a list, unlike clusters/resource_cluster.go (v1.99.0,
line 276) whose cluster libraries are a `slice_set`.

The committed config is synthesized with stand-ins of fairlearn and narwhals (tests/wheelhouse_standins.py): same
names, versions and Requires-Dist, hashes of their own, pinned by a copy of Pipfile.lock.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest
import yaml

from infra.config import parse_config
from tests.infra.conftest import ROOT, SYNTH_TODAY
from tests.infra.test_workload_shared_package import second_on_ml
from tests.terraform_graph import StackGraph

COMMITTED = yaml.safe_load((ROOT / "platform.yaml").read_text())
ORDER = [
    "narwhals-2.29.0-py3-none-any.whl",
    "fairlearn-0.15.0-py3-none-any.whl",
    "churn-0.1.0-py3-none-any.whl",
]


def risk(config: dict) -> dict:
    return next(t for t in config["teams"] if t["name"] == "risk")


def libraries(job: dict) -> list[list[str]]:
    """The libraries of each wheel task (a condition or run-job task installs nothing)."""
    return [
        [lib["whl"] for lib in task.get("library", [])] for task in job["task"] if "python_wheel_task" in task
    ]


def test_the_isolated_prod_jobs_install_narwhals_then_fairlearn_then_the_churn_wheel(synthesized):
    """fairlearn 0.15.0 requires narwhals (its Requires-Dist); neither is on Databricks Runtime 18 LTS ML's list."""
    stack = synthesized.json("risk-prod-workspace")
    jobs = stack["resource"]["databricks_job"]
    assert len(jobs) == 3
    for job in jobs.values():
        for task in libraries(job):
            assert [Path(p).name for p in task] == ORDER


def test_each_dependency_is_a_content_addressed_file_beside_the_wheel(synthesized, wheelhouse_standins):
    wheels, _, _ = wheelhouse_standins
    stack = synthesized.json("risk-prod-workspace")
    files = {Path(f["path"]).name: f for f in stack["resource"]["databricks_file"].values()}
    assert sorted(files) == sorted(ORDER)
    volume = "/Volumes/dbp_risk_prod/ml/artifacts/wheels"
    for name in ORDER[:2]:
        sha = hashlib.sha256((wheels / name).read_bytes()).hexdigest()
        assert files[name]["path"] == f"{volume}/dependencies/{sha[:12]}/{name}"
        assert files[name]["lifecycle"] == {"create_before_destroy": True}
    (job,) = [j for j in stack["resource"]["databricks_job"].values() if j["name"].endswith("-training")]
    assert set(libraries(job)[0]) == {f["path"] for f in files.values()}


def test_dependency_files_are_created_before_the_jobs_and_destroyed_after_them(synthesized):
    """A job that exists before its libraries can run (its schedule fires) and fail at install; destroyed after it,
    a library never vanishes under a job that still lists it."""
    graph = StackGraph(synthesized.json("risk-prod-workspace"))
    files = [n.address for n in graph.of_type("databricks_file") if "dependency" in n.address]
    jobs = [n.address for n in graph.of_type("databricks_job")]
    assert len(files) == 2 and len(jobs) == 3
    for job in jobs:
        for file in files:
            assert graph.depends(job, file) and graph.destroyed_before(job, file)
    order = graph.destroy_order()
    assert max(order.index(j) for j in jobs) < min(order.index(f) for f in files)


@pytest.mark.parametrize("stack", ["risk-dev-workspace", "risk-staging-workspace", "churn-prod-workspace"])
def test_envs_that_reach_pypi_get_no_wheelhouse(synthesized, stack):
    """Open envs reach PyPI through their NAT; the Azure firewall allows pypi.org and files.pythonhosted.org."""
    files = synthesized.json(stack)["resource"]["databricks_file"]
    assert [address for address in files if "dependency" in address] == []
    for job in synthesized.json(stack)["resource"]["databricks_job"].values():
        assert all(len(task) <= 1 for task in libraries(job))


@pytest.fixture(scope="module")
def variants(fake_wheel, tmp_path_factory) -> Path:
    """risk with a second workload on the churn package (prod, isolated) and isolated serverless jobs in dev."""
    from infra.app import build_app

    raw = copy.deepcopy(COMMITTED)
    team = risk(raw)
    team["workloads"] = [*team["workloads"], second_on_ml("scorer")]
    team["environments"]["dev"].update(egress={"mode": "isolated"}, serverless={"jobs": True})
    config = parse_config(yaml.safe_dump(raw, sort_keys=False))
    outdir = tmp_path_factory.mktemp("cdktf.wheelhouse")
    chosen = [te for te in config.team_envs if te.key in ("risk/dev", "risk/prod")]
    build_app(config, outdir=outdir, wheel=fake_wheel, team_envs=chosen, today=SYNTH_TODAY).synth()
    return outdir / "stacks"


def test_two_workloads_on_one_package_each_own_their_dependency_files(variants):
    """A `databricks_file` owns its path (see test_workload_shared_package.py): the scorer's wheelhouse is its own."""
    stack = json.loads((variants / "risk-prod-workspace" / "cdk.tf.json").read_text())
    paths = [f["path"] for f in stack["resource"]["databricks_file"].values()]
    assert len(paths) == len(set(paths)) == 6
    scorer = [p for p in paths if "/wheels/scorer/dependencies/" in p]
    assert sorted(Path(p).name for p in scorer) == sorted(ORDER[:2])
    (job,) = [j for j in stack["resource"]["databricks_job"].values() if "scorer" in j["name"]]
    (task,) = libraries(job)
    assert task[:2] == sorted(scorer, key=lambda p: ORDER.index(Path(p).name))


def test_serverless_jobs_list_the_wheelhouse_before_the_wheel_in_their_environment(variants):
    """Serverless tasks take no library: the job environment's `dependencies` install in order (synth passing
    means PLAT-DBX-SERVERLESS, a wheel among the dependencies, holds)."""
    stack = json.loads((variants / "risk-dev-workspace" / "cdk.tf.json").read_text())
    for job in stack["resource"]["databricks_job"].values():
        (environment,) = job["environment"]
        assert [Path(p).name for p in environment["spec"]["dependencies"]] == ORDER
