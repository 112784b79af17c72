"""The smoke run: success, a failing run, a timeout, a missing challenger; and the databricks-sdk adapter."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from databricks.sdk.errors import NotFound, TemporarilyUnavailable
from databricks.sdk.service import catalog, jobs

from infra.lifecycle.databricks import RunProgress, SdkTrainingWorkspace, TaskProgress
from infra.lifecycle.errors import InputProblem, OperationFailed
from infra.lifecycle.smoke import run_smoke, smoke_target
from tests.lifecycle.fakes import Clock, FakeWorkspace

JOB = "dbp-churn-dev-training"
MODEL = "dbp_churn_dev.ml.churn"


def running(*tasks):
    return RunProgress(run_id=907, state="RUNNING", url="https://adb/run/907", tasks=tasks)


def finished(result, *tasks):
    return RunProgress(run_id=907, state="TERMINATED", result=result, url="https://adb/run/907", tasks=tasks)


@pytest.fixture
def workspace():
    workspace = FakeWorkspace()
    workspace.jobs = {JOB: [7]}
    return workspace


def smoke(config, workspace, clock, timeout=timedelta(hours=1)):
    seen: list[str] = []
    result = run_smoke(
        workspace,
        smoke_target(config, "churn/dev"),
        timeout=timeout,
        clock=clock,
        sleep=clock.sleep,
        poll_seconds=15,
        on_progress=lambda progress: seen.append(progress.summary()),
    )
    return result, seen


def test_target_names_come_from_the_config(config):
    target = smoke_target(config, "churn/dev")
    assert (target.job_name, target.model_name) == (JOB, MODEL)
    assert target.workspace_resource_id("sub-1") == (
        "/subscriptions/sub-1/resourceGroups/rg-dbp-churn-dev/providers/Microsoft.Databricks/workspaces/dbw-dbp-churn-dev"
    )
    assert smoke_target(config, "churn/pr42").job_name == "dbp-churn-pr42-training"  # ephemeral envs too


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("churn", "TEAM/ENV: 'churn' is not of the form TEAM/ENV, e.g. churn/dev"),
        ("payroll/dev", "TEAM/ENV: unknown team 'payroll' (teams: churn, pricing, risk)"),
        (
            "churn/Dev",
            "TEAM/ENV: team 'churn' has no environment 'Dev' (environments: dev, staging, prod, or an ephemeral NAME)",
        ),
        (
            "pricing/pr1",
            "TEAM/ENV: team 'pricing' has no environment 'pr1' (environments: dev, staging, prod, or an ephemeral NAME)",
        ),
    ],
)
def test_bad_targets(config, text, message):
    with pytest.raises(InputProblem) as problem:
        smoke_target(config, text)
    assert str(problem.value) == message


def test_success_follows_the_run_and_finds_a_new_challenger(config, workspace):
    clock = Clock()
    workspace.progress = [
        RunProgress(run_id=907, state="PENDING"),
        running(TaskProgress("ingest", "RUNNING")),
        running(TaskProgress("ingest", "TERMINATED", "SUCCESS"), TaskProgress("train", "RUNNING")),
        finished(
            "SUCCESS",
            TaskProgress("ingest", "TERMINATED", "SUCCESS"),
            TaskProgress("train", "TERMINATED", "SUCCESS"),
        ),
    ]
    workspace.aliases = [3, 4]
    result, seen = smoke(config, workspace, clock)
    assert (result.run_id, result.version, result.took) == (907, 4, timedelta(seconds=45))
    assert workspace.started == [7] and workspace.cancelled == []
    assert clock.slept == [15, 15, 15]
    assert seen == [
        "run 907: PENDING",
        "run 907: RUNNING (ingest RUNNING)",
        "run 907: RUNNING (ingest SUCCESS, train RUNNING)",
        "run 907: TERMINATED/SUCCESS (ingest SUCCESS, train SUCCESS)",
    ]


def test_the_first_challenger_of_a_new_env_counts(config, workspace):
    workspace.progress = [finished("SUCCESS")]
    workspace.aliases = [None, 1]
    result, _ = smoke(config, workspace, Clock())
    assert result.version == 1


def test_a_failed_run_fails_with_the_runs_own_error(config, workspace):
    workspace.progress = [running(), finished("FAILED", TaskProgress("train", "TERMINATED", "FAILED"))]
    workspace.errors = {907: "train: ValueError: column 'tenure' has 12 nulls"}
    with pytest.raises(OperationFailed) as failed:
        smoke(config, workspace, Clock())
    assert str(failed.value) == (
        f"{JOB} run 907 FAILED: train: ValueError: column 'tenure' has 12 nulls (https://adb/run/907)"
    )


def test_a_failed_run_without_task_errors_reports_the_state_message(config, workspace):
    workspace.progress = [
        RunProgress(run_id=907, state="INTERNAL_ERROR", result="FAILED", message="Cluster failed to launch")
    ]
    with pytest.raises(OperationFailed, match=r"run 907 FAILED: Cluster failed to launch$"):
        smoke(config, workspace, Clock())


def test_a_run_that_outlives_the_timeout_is_cancelled_without_real_waiting(config, workspace):
    clock = Clock()
    workspace.progress = [running()]
    with pytest.raises(OperationFailed) as failed:
        smoke(config, workspace, clock, timeout=timedelta(minutes=30))
    assert str(failed.value) == (
        f"{JOB} run 907 did not finish within 30m (RUNNING); cancelled it: https://adb/run/907"
    )
    assert workspace.cancelled == [907]
    assert sum(clock.slept) == 30 * 60  # 120 polls, all on the injected clock


UNAVAILABLE = TemporarilyUnavailable("The service at /api/2.2/jobs/runs/get is temporarily unavailable")


class Interrupted(Clock):
    def sleep(self, seconds):
        raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("break_it", "error"),
    [
        (lambda workspace, clock: workspace.poll_errors.update({2: UNAVAILABLE}), TemporarilyUnavailable),
        (lambda workspace, clock: None, KeyboardInterrupt),  # Ctrl-C while waiting between polls
    ],
    ids=["sdk error while polling", "ctrl-c"],
)
def test_a_run_is_cancelled_on_every_way_out(config, workspace, break_it, error):
    clock = Interrupted() if error is KeyboardInterrupt else Clock()
    workspace.progress = [running()]
    break_it(workspace, clock)
    with pytest.raises(error):
        smoke(config, workspace, clock)
    assert workspace.cancelled == [907]


def test_a_failing_cancel_does_not_hide_why_the_run_was_cancelled(config, workspace):
    workspace.progress = [running()]
    workspace.poll_errors = {2: UNAVAILABLE}
    workspace.cancel_error = NotFound("Run 907 does not exist.")
    with pytest.raises(TemporarilyUnavailable):
        smoke(config, workspace, Clock())


def test_a_finished_run_is_not_cancelled_when_a_later_step_fails(config, workspace):
    workspace.progress = [finished("SUCCESS")]
    workspace.aliases = [None, None]
    with pytest.raises(OperationFailed):
        smoke(config, workspace, Clock())
    assert workspace.cancelled == []


def test_no_challenger_after_the_run_fails(config, workspace):
    workspace.progress = [finished("SUCCESS")]
    workspace.aliases = [None, None]
    with pytest.raises(
        OperationFailed, match=rf"^{MODEL} has no version with alias 'challenger' after run 907$"
    ):
        smoke(config, workspace, Clock())


def test_an_unchanged_challenger_fails(config, workspace):
    workspace.progress = [finished("SUCCESS")]
    workspace.aliases = [5, 5]
    with pytest.raises(
        OperationFailed,
        match="alias 'challenger' still points at version 5; run 907 registered no new version",
    ):
        smoke(config, workspace, Clock())


@pytest.mark.parametrize(("ids", "message"), [([], "no job named"), ([7, 8], "2 jobs are named")])
def test_the_training_job_must_exist_once(config, workspace, ids, message):
    workspace.jobs = {JOB: ids}
    with pytest.raises(OperationFailed, match=message):
        smoke(config, workspace, Clock())
    assert workspace.started == []


# --- the real adapter, over databricks-sdk's own dataclasses ---------------------------------------------


class FakeSdk:
    """The slice of WorkspaceClient the adapter uses, answering with real SDK objects."""

    def __init__(
        self, run: jobs.Run, outputs: dict[int, jobs.RunOutput], alias: catalog.ModelVersionInfo | None
    ):
        self.calls: list[tuple] = []
        self.jobs = SimpleNamespace(
            list=lambda name: self._log("list", name) or [jobs.BaseJob(job_id=7)],
            run_now=lambda job_id: (
                self._log("run_now", job_id) or SimpleNamespace(response=jobs.RunNowResponse(run_id=907))
            ),
            get_run=lambda run_id: self._log("get_run", run_id) or run,
            get_run_output=lambda run_id: outputs[run_id],
            cancel_run=lambda run_id: self._log("cancel_run", run_id),
        )
        self.model_versions = SimpleNamespace(
            get_by_alias=lambda model, alias_name: self._alias(model, alias_name, alias)
        )

    def _log(self, *call):
        self.calls.append(call)

    def _alias(self, model, alias_name, alias):
        self._log("get_by_alias", model, alias_name)
        if alias is None:
            raise NotFound("alias not found")
        return alias


def sdk_run(result: jobs.RunResultState | None, *tasks: jobs.RunTask) -> jobs.Run:
    state = jobs.RunLifeCycleState.TERMINATED if result else jobs.RunLifeCycleState.RUNNING
    return jobs.Run(
        run_id=907,
        run_page_url="https://adb/run/907",
        state=jobs.RunState(life_cycle_state=state, result_state=result, state_message="done"),
        tasks=list(tasks),
    )


def sdk_task(key, run_id, result):
    life = jobs.RunLifeCycleState.TERMINATED if result else jobs.RunLifeCycleState.RUNNING
    return jobs.RunTask(
        task_key=key, run_id=run_id, state=jobs.RunState(life_cycle_state=life, result_state=result)
    )


def test_adapter_translates_runs_and_tasks():
    run = sdk_run(None, sdk_task("ingest", 1, jobs.RunResultState.SUCCESS), sdk_task("train", 2, None))
    adapter = SdkTrainingWorkspace(FakeSdk(run, {}, None))
    assert adapter.job_ids(JOB) == [7]
    assert adapter.run_now(7) == 907
    assert adapter.run(907) == RunProgress(
        run_id=907,
        state="RUNNING",
        message="done",
        url="https://adb/run/907",
        tasks=(TaskProgress("ingest", "TERMINATED", "SUCCESS"), TaskProgress("train", "RUNNING")),
    )


def test_adapter_collects_the_errors_of_failed_tasks_only():
    run = sdk_run(
        jobs.RunResultState.FAILED,
        sdk_task("ingest", 1, jobs.RunResultState.SUCCESS),
        sdk_task("train", 2, jobs.RunResultState.FAILED),
    )
    outputs = {2: jobs.RunOutput(error="ValueError: bad batch", error_trace="Traceback ...")}
    adapter = SdkTrainingWorkspace(FakeSdk(run, outputs, None))
    assert adapter.run(907).succeeded is False
    assert adapter.run_error(907) == "train: ValueError: bad batch"


def test_adapter_reads_the_alias_and_treats_a_missing_one_as_none():
    present = SdkTrainingWorkspace(FakeSdk(sdk_run(None), {}, catalog.ModelVersionInfo(version=4)))
    assert present.alias_version(MODEL, "challenger") == 4
    client = FakeSdk(sdk_run(None), {}, None)
    assert SdkTrainingWorkspace(client).alias_version(MODEL, "challenger") is None
    assert client.calls == [("get_by_alias", MODEL, "challenger")]


def test_adapter_reads_a_run_without_state_as_pending():
    # the Jobs API leaves `state` out of a run it has only just queued; jobs.Run makes it None
    queued = jobs.Run.from_dict({"run_id": 907, "run_page_url": "https://adb/run/907"})
    assert queued.state is None
    assert SdkTrainingWorkspace(FakeSdk(queued, {}, None)).run(907) == RunProgress(
        run_id=907, state="PENDING", url="https://adb/run/907"
    )
