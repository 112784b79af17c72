"""What SAT v0.8.0's notebooks do at run time, checked against what the platform deploys for them (issue 25 item 5).

Our synth tests cannot see a run fail; these read what SAT's code at the tag asks of its principal and compare.
Sources (databricks-industry-solutions/security-analysis-tool @ v0.8.0 = 9714352):
- notebooks/Utils/initialize.py, %run by the initializer, the driver and the secrets scanner, calls
  `create_schema()` (notebooks/Utils/common.py), which runs `CREATE DATABASE IF NOT EXISTS <analysis schema>` and
  then `COMMENT ON SCHEMA <analysis schema> IS '...'`. Databricks SQL reference, "COMMENT ON": with Unity Catalog,
  commenting a schema needs its ownership (SRA lets SAT create the schema, azure/tf/modules/sat/main.tf grants it
  ALL_PRIVILEGES on the catalog, so it owns it).
"""

from __future__ import annotations

import pytest
import yaml

from infra.config import parse_config
from infra.config.security_analysis_tool import INTERMEDIATE_SCHEMA, SAT_ANALYSIS_SCHEMA_COMMENT
from tests.infra.conftest import SYNTH_TODAY, Synthesized
from tests.infra.sat_configs import sat_config

STACK = "churn-prod-workspace"
SP_REF = "${databricks_permission_assignment.sat-identity_admin_"


@pytest.fixture(scope="module")
def sat_synth(fake_wheel, tmp_path_factory) -> Synthesized:
    from infra.app import build_app

    config = parse_config(yaml.safe_dump(sat_config()))
    outdir = tmp_path_factory.mktemp("cdktf.sat-runtime")
    chosen = [te for te in config.team_envs if te.key == "churn/prod"]
    app = build_app(config, outdir=outdir, wheel=fake_wheel, team_envs=chosen, today=SYNTH_TODAY)
    app.synth()
    return Synthesized(outdir=outdir, app=app)


def _sat_schemas(sat_synth: Synthesized) -> dict[str, dict]:
    schemas = sat_synth.json(STACK)["resource"]["databricks_schema"]
    return {s["name"]: s for key, s in schemas.items() if key.startswith("security-analysis-tool_schema-")}


def test_sats_principal_owns_its_schemas_so_its_comment_on_schema_runs(sat_synth):
    """initialize.py -> common.py create_schema(): `COMMENT ON SCHEMA` on the analysis schema on every run; only
    the owner may (USE_SCHEMA, MODIFY, CREATE_TABLE are not enough), so with the deployer owning it every SAT job
    stopped in its first notebook. databricks v1.99.0 catalog/resource_schema.go: `owner` is set by an update right
    after the create (the deployer, the catalog's owner, keeps managing the schema's grants)."""
    schemas = _sat_schemas(sat_synth)
    assert sorted(schemas) == [INTERMEDIATE_SCHEMA, "security_analysis"]
    for schema in schemas.values():
        assert schema.get("owner", "").startswith(SP_REF), schema


def test_the_analysis_schema_comment_is_the_one_sat_sets(sat_synth):
    """create_schema() overwrites the analysis schema's comment on every run: a different one in Terraform would be
    a diff on every plan, and an update the deployer (no longer the owner) may not make."""
    schema = _sat_schemas(sat_synth)["security_analysis"]
    assert schema["comment"] == SAT_ANALYSIS_SCHEMA_COMMENT
    assert SAT_ANALYSIS_SCHEMA_COMMENT.startswith("Databricks Security Analysis Tool (SAT) results.")
