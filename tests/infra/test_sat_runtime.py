"""What SAT v0.8.0's notebooks do at run time, checked against what the platform deploys for them (issue 25 item 5).

Our synth tests cannot see a run fail; these read what SAT's code at the tag asks of its principal and compare.
Sources (databricks-industry-solutions/security-analysis-tool @ v0.8.0 = 9714352):
- notebooks/Utils/initialize.py, %run by the initializer, the driver and the secrets scanner, calls
  `create_schema()` (notebooks/Utils/common.py), which runs `CREATE DATABASE IF NOT EXISTS <analysis schema>` and
  then `COMMENT ON SCHEMA <analysis schema> IS '...'`. Databricks SQL reference, "COMMENT ON": with Unity Catalog,
  commenting a schema needs its ownership (SRA lets SAT create the schema, azure/tf/modules/sat/main.tf grants it
  ALL_PRIVILEGES on the catalog, so it owns it).
- notebooks/security_analysis_initializer.py (last cell) and security_analysis_driver.py (line 204) end every run
  with `DROP DATABASE IF EXISTS <catalog>.intermediate_schema CASCADE`: that schema is SAT's scratch space, created
  by create_schema() at the start of each run and dropped at its end.
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


def test_sats_principal_owns_its_schema_so_its_comment_on_schema_runs(sat_synth):
    """initialize.py -> common.py create_schema(): `COMMENT ON SCHEMA` on the analysis schema on every run; only
    the owner may (USE_SCHEMA, MODIFY, CREATE_TABLE are not enough), so with the deployer owning it every SAT job
    stopped in its first notebook. databricks v1.99.0 catalog/resource_schema.go: `owner` is set by an update right
    after the create (the deployer, the catalog's owner, keeps managing the schema's grants)."""
    schemas = _sat_schemas(sat_synth)
    assert sorted(schemas) == ["security_analysis"]
    assert schemas["security_analysis"].get("owner", "").startswith(SP_REF)


def test_the_scratch_schema_sat_drops_after_every_run_is_not_declared(sat_synth):
    """The driver and the initializer DROP intermediate_schema CASCADE at their end. Declared in Terraform it was
    either not droppable by SAT (deployer-owned: every driver run ended failed on its last cell) or gone after each
    run (every plan re-creating it and its grants). SAT creates it itself, as its owner, with CREATE_SCHEMA on the
    catalog (SRA: ALL_PRIVILEGES on the catalog, SAT creating both schemas)."""
    stack = sat_synth.json(STACK)["resource"]
    assert INTERMEDIATE_SCHEMA not in {s["name"] for s in stack["databricks_schema"].values()}
    catalog = next(
        g for k, g in stack["databricks_grants"].items() if k.startswith("unity-catalog_catalog-grants")
    )
    assert any(
        g["principal"].startswith(SP_REF) and "CREATE_SCHEMA" in g["privileges"] for g in catalog["grant"]
    )


def test_the_analysis_schema_comment_is_the_one_sat_sets(sat_synth):
    """create_schema() overwrites the analysis schema's comment on every run: a different one in Terraform would be
    a diff on every plan, and an update the deployer (no longer the owner) may not make."""
    schema = _sat_schemas(sat_synth)["security_analysis"]
    assert schema["comment"] == SAT_ANALYSIS_SCHEMA_COMMENT
    assert SAT_ANALYSIS_SCHEMA_COMMENT.startswith("Databricks Security Analysis Tool (SAT) results.")
