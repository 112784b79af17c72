"""The few Databricks calls a smoke run makes, behind one small interface (real: databricks-sdk)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

# Life-cycle states after which a run never changes again.
FINISHED_STATES = frozenset({"TERMINATED", "SKIPPED", "INTERNAL_ERROR"})


@dataclass(frozen=True)
class TaskProgress:
    key: str
    state: str
    result: str | None = None


@dataclass(frozen=True)
class RunProgress:
    """Where a job run is: its life-cycle state, its result once finished, and each task's state."""

    run_id: int
    state: str
    result: str | None = None
    message: str = ""
    url: str | None = None
    tasks: tuple[TaskProgress, ...] = ()

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def succeeded(self) -> bool:
        return self.finished and self.result == "SUCCESS"

    def summary(self) -> str:
        state = f"{self.state}/{self.result}" if self.result else self.state
        tasks = ", ".join(f"{t.key} {t.result or t.state}" for t in self.tasks)
        return f"run {self.run_id}: {state}" + (f" ({tasks})" if tasks else "")


class TrainingWorkspace(Protocol):
    def job_ids(self, name: str) -> list[int]:
        """IDs of the jobs called ``name``."""

    def run_now(self, job_id: int) -> int:
        """Start a run of the job now; its run ID."""

    def run(self, run_id: int) -> RunProgress: ...

    def run_error(self, run_id: int) -> str | None:
        """The error of the run's failed tasks (`task: message`), or None when no task reports one."""

    def cancel(self, run_id: int) -> None: ...

    def alias_version(self, model: str, alias: str) -> int | None:
        """Version of Unity Catalog model ``model`` (catalog.schema.name) that ``alias`` points at, or None."""


class SdkTrainingWorkspace:
    """The real TrainingWorkspace on a databricks-sdk WorkspaceClient."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @classmethod
    def for_azure_workspace(cls, resource_id: str) -> SdkTrainingWorkspace:
        """Authenticates like the workspace provider: Azure CLI / environment / OIDC against the workspace's
        Azure resource ID; the SDK looks the workspace URL up from that ID."""
        from databricks.sdk import WorkspaceClient

        # Without a login the SDK logs a warning before it raises; the CLI's one-line error says it all.
        logging.getLogger("databricks.sdk").setLevel(logging.ERROR)
        return cls(WorkspaceClient(azure_workspace_resource_id=resource_id))

    @classmethod
    def for_workspace_url(cls, url: str) -> SdkTrainingWorkspace:
        """An AWS workspace, authenticated like the AWS workspace stack's provider: its URL as host, credentials
        from the environment (DATABRICKS_CLIENT_ID / _SECRET of a service principal, or OIDC in CI)."""
        from databricks.sdk import WorkspaceClient

        logging.getLogger("databricks.sdk").setLevel(logging.ERROR)
        return cls(WorkspaceClient(host=url))

    def job_ids(self, name: str) -> list[int]:
        return [job.job_id for job in self._client.jobs.list(name=name)]

    def run_now(self, job_id: int) -> int:
        return self._client.jobs.run_now(job_id).response.run_id

    def run(self, run_id: int) -> RunProgress:
        from databricks.sdk.service.jobs import RunState

        run = self._client.jobs.get_run(run_id)
        state = run.state or RunState()  # a run just queued can come back without a state
        return RunProgress(
            run_id=run_id,
            state=_enum_value(state.life_cycle_state) or "PENDING",
            result=_enum_value(state.result_state),
            message=state.state_message or "",
            url=run.run_page_url,
            tasks=tuple(
                TaskProgress(
                    key=task.task_key,
                    state=_enum_value(task.state.life_cycle_state) or "PENDING",
                    result=_enum_value(task.state.result_state),
                )
                for task in run.tasks or ()
                if task.state
            ),
        )

    def run_error(self, run_id: int) -> str | None:
        run = self._client.jobs.get_run(run_id)
        errors = []
        for task in run.tasks or ():
            if task.state and _enum_value(task.state.result_state) not in (None, "SUCCESS"):
                output = self._client.jobs.get_run_output(task.run_id)
                if output.error:
                    errors.append(f"{task.task_key}: {output.error}")
        return "; ".join(errors) or None

    def cancel(self, run_id: int) -> None:
        self._client.jobs.cancel_run(run_id)

    def alias_version(self, model: str, alias: str) -> int | None:
        from databricks.sdk.errors import NotFound

        try:
            version = self._client.model_versions.get_by_alias(model, alias)
        except NotFound:
            return None
        return int(version.version) if version.version is not None else None


def _enum_value(value: Any) -> str | None:
    return None if value is None else getattr(value, "value", str(value))
