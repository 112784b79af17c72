"""Two managed workloads of one team built from one package: each uploads the wheel to a path of its own.

A `databricks_file` owns its path: the provider uploads without refusing an existing file and deletes the path
on destroy (storage/resource_file.go, databricks/terraform-provider-databricks v1.99.0: `Files.Upload` without
`Overwrite`, `Files.Delete` of the resource's ID). Two resources on one path would each read the other's upload
back as a remote change on every plan, and removing one workload would delete the wheel the other's jobs
install. The churn preset keeps the path it always had.
"""

from __future__ import annotations

import copy
import json
from collections import Counter

import pytest
import yaml

from infra.config import parse_config
from tests.infra.conftest import ROOT, SYNTH_TODAY
from tests.infra.test_workload_stacks import upsell


def second_on_ml(name: str) -> dict:
    """A second managed workload of the churn package (its own jobs on churn's entry point)."""
    return {
        "kind": "managed",
        "name": name,
        "package": "ml",
        "models": [name],
        "jobs": [
            {"name": "adhoc", "tasks": [{"key": "run", "entry_point": "churn", "parameters": ["score"]}]}
        ],
    }


@pytest.fixture(scope="module")
def stack(fake_wheel, tmp_path_factory) -> dict:
    from infra.app import build_app

    raw = copy.deepcopy(yaml.safe_load((ROOT / "platform.yaml").read_text()))
    churn = raw["teams"][0]
    churn["workloads"] = [*churn["workloads"], second_on_ml("scorer"), upsell("upsell"), upsell("upsell2")]
    config = parse_config(yaml.safe_dump(raw, sort_keys=False))
    outdir = tmp_path_factory.mktemp("cdktf.out")
    chosen = [te for te in config.team_envs if te.key == "churn/dev"]
    build_app(config, outdir=outdir, wheel=fake_wheel, team_envs=chosen, today=SYNTH_TODAY).synth()
    return json.loads((outdir / "stacks" / "churn-dev-workspace" / "cdk.tf.json").read_text())


def test_every_wheel_upload_owns_its_path(stack):
    files = stack["resource"]["databricks_file"]
    paths = Counter(f["path"] for f in files.values())
    assert [path for path, n in paths.items() if n > 1] == []
    assert len(files) == 4  # churn's, scorer's (the same wheel), upsell's and upsell2's (the same wheel)


def test_each_workloads_jobs_install_the_upload_it_owns(stack):
    files = stack["resource"]["databricks_file"]
    by_prefix = {address.split("_wheel_")[0]: f["path"] for address, f in files.items()}
    assert by_prefix["model-jobs"].startswith("/Volumes/dbp_churn_dev/ml/artifacts/wheels/")
    assert by_prefix["model-jobs"].count("/") == 7  # the churn preset's path does not move
    for name in ("scorer", "upsell", "upsell2"):
        path = by_prefix[f"workload-{name}-jobs"]
        assert path.startswith(f"/Volumes/dbp_churn_dev/ml/artifacts/wheels/{name}/"), path
        jobs = [
            j for a, j in stack["resource"]["databricks_job"].items() if a.startswith(f"workload-{name}-jobs")
        ]
        assert jobs and all(t["library"] == [{"whl": path}] for j in jobs for t in j["task"])
