"""Serverless compute of the model jobs (config `serverless`): only where the env opts in, and with the wheel."""

from __future__ import annotations

from typing import Any

from infra.aspects.policy.engine import Rule, RuleContext, RulePack, first_block

# databricks v1.99.0 docs/resources/job.md: a task with none of these runs on serverless compute.
CLUSTER_KEYS = ("job_cluster_key", "existing_cluster_id", "new_cluster")


def _serverless_tasks(config: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        task
        for task in config.get("task") or []
        if isinstance(task, dict)
        and task.get("python_wheel_task")
        and not any(task.get(k) for k in CLUSTER_KEYS)
    ]


def _serverless_only_where_configured(config: dict[str, Any], ctx: RuleContext) -> str | None:
    tasks = _serverless_tasks(config)
    if not tasks:
        return None
    keys = [str(task.get("task_key")) for task in tasks]
    if not ctx.team_env.settings.serverless.jobs:
        return f"tasks {keys} run on serverless compute, which the env's serverless.jobs does not allow"
    environments = {
        str(env.get("environment_key")): first_block(env.get("spec"))
        for env in config.get("environment") or []
        if isinstance(env, dict)
    }
    for task in tasks:
        spec = environments.get(str(task.get("environment_key")))
        if spec is None or not any(str(d).endswith(".whl") for d in spec.get("dependencies") or []):
            return (
                f"serverless task {task.get('task_key')!r} names no job environment that installs the wheel "
                "(environment_key -> environment.spec.dependencies)"
            )
    return None


DATABRICKS_SERVERLESS = RulePack(
    "databricks-serverless",
    (
        Rule(
            "PLAT-DBX-SERVERLESS-1",
            ("databricks_job",),
            "wheel tasks run on serverless compute only where the env's serverless.jobs allows it, each in a job "
            "environment that installs the wheel",
            _serverless_only_where_configured,
        ),
    ),
)
