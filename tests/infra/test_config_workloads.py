"""A team's workloads in the config: churn is one managed workload, a team may bundle its own, and two workloads
of one team never share a schema (so neither can overwrite the other's models)."""

from __future__ import annotations

import copy

import pytest
import yaml

from infra.config import parse_config
from infra.config.deployability import deploy_warnings
from infra.config.workload import BundleWorkload, ManagedWorkload
from tests.infra.test_config import BASE, ROOT, assert_problem_at, legacy_model_name, problems_of

CHURN = {
    "kind": "managed",
    "name": "churn",
    "package": "ml",
    "schema_name": "ml",
    "models": ["churn"],
    "preset": "churn",
}
SCORER = {
    "kind": "managed",
    "name": "upsell",
    "package": "ml",
    "models": ["upsell"],
    "jobs": [
        {
            "name": "nightly",
            "schedule": "0 0 3 * * ?",
            "tasks": [
                {"key": "train", "entry_point": "churn", "parameters": ["train"]},
                {"key": "score", "entry_point": "churn", "parameters": ["score"], "depends_on": ["train"]},
            ],
        }
    ],
}


def with_workloads(*workloads: dict, team: int = 0) -> dict:
    config = copy.deepcopy(BASE)
    config["teams"][team]["workloads"] = [copy.deepcopy(w) for w in workloads]
    return config


def parse(config: dict):
    return parse_config(yaml.safe_dump(config, sort_keys=False))


def test_committed_config_gives_churn_and_risk_the_churn_workload_and_pricing_a_bundle():
    config = parse_config((ROOT / "platform.yaml").read_text())
    for name in ("churn", "risk"):
        (churn,) = config.team(name).workloads
        assert isinstance(churn, ManagedWorkload)
        assert (churn.name, churn.package, churn.schema, churn.models, churn.preset) == (
            "churn", "ml", "ml", ["churn"], "churn",
        )  # fmt: skip
        assert churn.job_names == ["training", "scoring", "monitoring"]
    (pricing,) = config.team("pricing").workloads
    assert isinstance(pricing, BundleWorkload)
    assert (pricing.schema, pricing.models) == ("pricing", ["price_elasticity", "demand_forecast"])
    assert pricing.ci is not None and pricing.ci.github_repository == "example-org/pricing-ml"
    assert config.team("pricing").managed_workloads == []


def test_a_team_without_workloads_gets_the_churn_workload():
    config = copy.deepcopy(BASE)
    del config["teams"][0]["workloads"]
    team = parse(config).team("churn")
    assert [(w.name, w.schema, w.models, w.preset) for w in team.workloads] == [
        ("churn", "ml", ["churn"], "churn")
    ]
    assert not team.model_name_deprecated


def test_old_model_name_still_reads_as_the_churn_workload_with_a_deprecation_warning():
    config = parse(legacy_model_name("retention"))
    (workload,) = config.team("churn").workloads
    assert (workload.name, workload.schema, workload.models, workload.preset) == (
        "churn",
        "ml",
        ["retention"],
        "churn",
    )
    assert config.team("churn").model_name == "retention"
    (warning,) = [w for w in deploy_warnings(config) if "model_name" in w]
    assert warning.startswith("teams.churn.model_name: model_name is deprecated")


def test_model_name_together_with_workloads_is_refused():
    assert_problem_at(mutated_model_name_and_workloads(), "teams.churn.model_name", "together with workloads")


def mutated_model_name_and_workloads() -> dict:
    config = copy.deepcopy(BASE)
    config["teams"][0]["model_name"] = "churn"
    return config


def test_two_managed_workloads_of_one_team_each_get_their_own_schema():
    team = parse(with_workloads(CHURN, SCORER)).team("churn")
    assert [(w.name, w.schema) for w in team.managed_workloads] == [("churn", "ml"), ("upsell", "upsell")]
    assert team.managed_workloads[1].job_names == ["nightly"]


@pytest.mark.parametrize(
    ("workloads", "path", "words"),
    [
        ((CHURN, {**SCORER, "name": "churn"}), "teams.churn.workloads[1].name", "more than one workload"),
        (
            (CHURN, {**SCORER, "schema_name": "ml"}),
            "teams.churn.workloads[1].schema_name",
            "shared with another",
        ),
        (
            (CHURN, {**SCORER, "schema_name": "information_schema"}),
            "teams.churn.workloads[1].schema_name",
            "reserved",
        ),
        (
            ({**SCORER, "package": "ml/../../elsewhere"},),
            "teams.churn.workloads[0].package",
            "leaves the repository",
        ),
        (({**SCORER, "name": "Upsell"},), "teams.churn.workloads[0].name", "invalid"),
        (({**SCORER, "models": []},), "teams.churn.workloads[0].models", "at least 1"),
        (({**SCORER, "models": ["a", "a"]},), "teams.churn.workloads[0]", "listed more than once"),
        (({**SCORER, "jobs": []},), "teams.churn.workloads[0]", "at least one job"),
        (({**CHURN, "jobs": SCORER["jobs"]},), "teams.churn.workloads[0]", "defines the jobs"),
        (({**SCORER, "kind": "notebook"},), "teams.churn.workloads[0]", "managed"),
        (({**SCORER, "colour": "red"},), "teams.churn.workloads[0].colour", "unknown key"),
        (
            (
                {
                    "kind": "bundle",
                    "name": "pricing",
                    "models": ["p"],
                    "ci": {"github_repository": "no-slash"},
                },
            ),
            "teams.churn.workloads[0].ci.github_repository",
            "invalid",
        ),
        (
            ({"kind": "bundle", "name": "pricing", "schema_name": "ml", "models": ["p"]},),
            "teams.churn.workloads[0].schema_name",
            "the platform's own schema",
        ),
        (
            ({"kind": "bundle", "name": "ml", "models": ["p"]},),
            "teams.churn.workloads[0].schema_name",
            "the platform's own schema",
        ),
    ],
    ids=[
        "name-twice",
        "schema-shared",
        "schema-reserved",
        "package-outside",
        "bad-name",
        "no-models",
        "model-twice",
        "no-jobs",
        "preset-and-jobs",
        "unknown-kind",
        "unknown-key",
        "bad-ci-repo",
        # The catalog scope's `ml` schema exists in every env: a second databricks_schema `ml` fails the apply.
        "bundle-schema-ml",
        "bundle-named-ml",
    ],
)
def test_bad_workloads_name_the_field(workloads, path, words):
    assert_problem_at(with_workloads(*workloads), path, words)


@pytest.mark.parametrize(
    ("tasks", "words"),
    [
        ([{"key": "a", "entry_point": "churn"}, {"key": "a", "entry_point": "churn"}], "more than once"),
        ([{"key": "a", "entry_point": "churn", "depends_on": ["b"]}], "not tasks of job"),
        (
            [
                {"key": "a", "entry_point": "churn", "depends_on": ["b"]},
                {"key": "b", "entry_point": "churn", "depends_on": ["a"]},
            ],
            "circle",
        ),
    ],
    ids=["key-twice", "unknown-dependency", "cycle"],
)
def test_a_job_whose_tasks_cannot_run_is_refused(tasks, words):
    job = {"name": "nightly", "tasks": tasks}
    assert_problem_at(with_workloads({**SCORER, "jobs": [job]}), "teams.churn.workloads[0].jobs[0]", words)


def test_a_bad_job_schedule_is_one_line_naming_it():
    job = {**SCORER["jobs"][0], "schedule": "every night"}
    lines = problems_of(with_workloads({**SCORER, "jobs": [job]}))
    assert any(
        line.startswith("platform.yaml: teams.churn.workloads[0].jobs[0].schedule:") for line in lines
    ), lines


UPSELL = "tests/fixtures/workloads/upsell"


def test_a_task_whose_entry_point_the_package_does_not_declare_is_refused():
    job = {"name": "nightly", "tasks": [{"key": "a", "entry_point": "upsell-trian"}]}
    assert_problem_at(
        with_workloads({**SCORER, "package": UPSELL, "jobs": [job]}),
        "teams.churn.workloads[0].jobs[0].tasks[0].entry_point",
        "['upsell-score', 'upsell-train']",
    )


def test_the_churn_preset_needs_the_churn_entry_point_of_its_package():
    assert_problem_at(
        with_workloads({**CHURN, "package": UPSELL}),
        "teams.churn.workloads[0].preset",
        "'churn' is not an entry point",
    )


def test_a_package_path_without_a_python_project_is_refused():
    assert_problem_at(
        with_workloads({**SCORER, "package": "docs"}), "teams.churn.workloads[0].package", "not found"
    )


def test_a_package_that_would_replace_the_runtimes_spark_or_mlflow_is_refused(tmp_path):
    from infra.config.workload_packages import workload_package_problems

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "pyproject.toml").write_text(
        '[project]\nname = "pkg"\ndependencies = ["pyspark>=4", "MLflow[extras]>=3", "pandas"]\n'
        '[project.scripts]\nchurn = "pkg:main"\n'
    )
    team = parse(with_workloads({**SCORER, "package": "ml"})).team("churn")
    moved = team.model_copy(update={"workloads": [team.workloads[0].model_copy(update={"package": "pkg"})]})
    (line,) = [p for p in workload_package_problems([moved], root=tmp_path) if ".package:" in p]
    assert line.startswith("teams.churn.workloads[0].package: pkg/pyproject.toml requires mlflow, pyspark")


def test_the_churn_preset_lives_in_schema_ml():
    assert_problem_at(
        with_workloads({**CHURN, "schema_name": "churn"}),
        "teams.churn.workloads[0].schema_name",
        "schema 'ml'",
    )
    team = parse(with_workloads({k: v for k, v in CHURN.items() if k != "schema_name"})).team("churn")
    assert team.workloads[0].schema == "ml"


@pytest.mark.parametrize("spelling", ["ml/", "ml/.", "ml//", "ml/./"])
def test_one_package_has_one_spelling_so_it_is_built_once_and_scoped_once(spelling):
    """`ml/` used to be a package of its own: built a second time into dist/workloads/ml and never matched by
    CI's scope (.github/scripts/workload_scope.py compares paths)."""
    from infra.app import workload_wheels

    config = parse(with_workloads({**CHURN, "package": spelling}, {**SCORER, "package": f"{spelling}/"}))
    assert [w.package for w in config.team("churn").workloads] == ["ml", "ml"]
    built: list[str] = []
    workload_wheels(config.team_envs, given={}, build=lambda package: built.append(package) or ROOT / "x.whl")
    assert built == []  # churn's ml/ is the app's wheel, built once by synth


def test_a_package_that_links_out_of_the_repository_is_refused(tmp_path):
    """The link builds on the engineer's machine, but CI's checkout holds only the link."""
    from infra.config.workload_packages import workload_package_problems

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "pyproject.toml").write_text(
        '[project]\nname = "pkg"\n[project.scripts]\nchurn = "pkg:main"\n'
    )
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "pkg").symlink_to(outside)
    team = parse(with_workloads(SCORER)).team("churn")
    moved = team.model_copy(update={"workloads": [team.workloads[0].model_copy(update={"package": "pkg"})]})
    (line,) = workload_package_problems([moved], root=repo)
    assert line.startswith("teams.churn.workloads[0].package: pkg is a link that leaves the repository")


def test_churn_only_env_settings_of_a_team_without_churn_are_a_warning_naming_each():
    """A bundle-only team's serving, gate, drift, data quality and churn schedules deploy nothing."""
    config = with_workloads(
        {
            "kind": "bundle",
            "name": "pricing",
            "models": ["p"],
            "ci": {"github_repository": "example-org/pricing"},
        }
    )
    dev = config["teams"][0]["environments"]["dev"]
    dev["serving"] = {"enabled": True}
    dev["model_gate"] = {"min_roc_auc": 0.9}
    dev["schedules"] = {"training": "0 0 1 * * ?", "timezone": "Europe/Amsterdam"}
    warnings = [w for w in deploy_warnings(parse(config)) if "churn preset" in w]
    assert [w.split(":")[0] for w in warnings if ".dev." in w] == [
        "teams.churn.environments.dev.model_gate",
        "teams.churn.environments.dev.serving",
        "teams.churn.environments.dev.schedules.training",
    ]
    # With the churn preset they are read: no warning; nor for a team that sets none.
    config["teams"][0]["workloads"].append(CHURN)
    assert not [w for w in deploy_warnings(parse(config)) if "churn preset" in w]
    committed = parse_config((ROOT / "platform.yaml").read_text())
    assert not [w for w in deploy_warnings(committed) if "churn preset" in w]
