"""The monitoring job retrains on confirmed drift: the monitor sets the task value `retrain` (churn.retrain), a
condition task reads it, and on "true" a run-job task starts the training job. Read from the synthesized JSON
and on Terraform's graph."""

from __future__ import annotations

from infra.config.environment import EnvironmentConfig
from tests.infra.conftest import churn_workspace_stacks
from tests.infra.test_workspace_stack import jobs_by_name, synth_workspace, team_env_of
from tests.terraform_graph import StackGraph


def _workspace_stacks(synthesized) -> list[str]:
    return churn_workspace_stacks(synthesized)


def _by_key(job: dict) -> dict[str, dict]:
    return {t["task_key"]: t for t in job["task"]}


def test_confirmed_drift_runs_the_training_job(synthesized, platform_config):
    for stack in _workspace_stacks(synthesized):
        jobs = jobs_by_name(synthesized, stack)
        training_address = next(
            name
            for name, job in synthesized.resources(stack, "databricks_job").items()
            if job["name"].endswith("-training")
        )
        tasks = _by_key(jobs["monitoring"])
        assert tasks["drift_confirmed"]["condition_task"] == {
            "left": "{{tasks.monitor.values.retrain}}",
            "op": "EQUAL_TO",
            "right": "true",
        }
        assert tasks["drift_confirmed"]["depends_on"] == [{"task_key": "monitor"}]
        assert tasks["retrain"]["depends_on"] == [{"task_key": "drift_confirmed", "outcome": "true"}]
        assert tasks["retrain"]["run_job_task"]["job_id"] == "${databricks_job." + training_address + ".id}"
        cooldown = team_env_of(platform_config, stack).settings.drift.retrain_cooldown_days
        parameters = tasks["monitor"]["python_wheel_task"]["parameters"]
        assert parameters[parameters.index("--retrain-cooldown-days") + 1] == str(cooldown)
        assert "--fail-on-drift" not in parameters


def test_the_monitoring_jobs_tasks_are_declared_in_task_key_order(synthesized):
    """jobs/resource_job.go (v1.99.0) sorts a job's tasks by task_key when it reads them: any other declared
    order shows a diff on every plan (PLAT-DBX-8 checks every job)."""
    for stack in _workspace_stacks(synthesized):
        keys = [t["task_key"] for t in jobs_by_name(synthesized, stack)["monitoring"]["task"]]
        assert keys == sorted(keys) == ["drift_confirmed", "monitor", "retrain"], stack


def test_the_job_principal_may_start_the_training_job_and_the_monitoring_run_waits_for_it(synthesized):
    for stack in _workspace_stacks(synthesized):
        jobs = jobs_by_name(synthesized, stack)
        permissions = synthesized.resources(stack, "databricks_permissions")
        training = next(
            name
            for name, job in synthesized.resources(stack, "databricks_job").items()
            if job["name"].endswith("-training")
        )
        (acl,) = [
            p["access_control"]
            for p in permissions.values()
            if p.get("job_id") == "${databricks_job." + training + ".id}"
        ]
        job_principal = jobs["monitoring"]["run_as"]["service_principal_name"]
        assert {"service_principal_name": job_principal, "permission_level": "CAN_MANAGE_RUN"} in acl
        assert jobs["monitoring"]["timeout_seconds"] > jobs["training"]["timeout_seconds"]


def test_no_cooldown_means_no_retraining_and_the_monitor_fails_on_drift_again(platform_config, fake_wheel):
    base = next(te for te in platform_config.team_envs if te.key == "churn/prod")
    settings = EnvironmentConfig.model_validate(
        base.settings.model_dump()
        | {"drift": base.settings.drift.model_dump() | {"retrain_cooldown_days": None}}
    )
    jobs = synth_workspace(base.model_copy(update={"settings": settings}), fake_wheel)["resource"][
        "databricks_job"
    ]
    monitoring = next(j for j in jobs.values() if j["name"].endswith("-monitoring"))
    assert [t["task_key"] for t in monitoring["task"]] == ["monitor"]
    assert "--fail-on-drift" in monitoring["task"][0]["python_wheel_task"]["parameters"]


def test_the_monitoring_job_is_created_after_and_destroyed_before_the_training_job(synthesized):
    for stack in _workspace_stacks(synthesized):
        graph = StackGraph(synthesized.json(stack))
        by_name = {n.config["name"].rsplit("-", 1)[1]: n.address for n in graph.of_type("databricks_job")}
        assert graph.depends(by_name["monitoring"], by_name["training"]), stack
        assert graph.destroyed_before(by_name["monitoring"], by_name["training"]), stack
