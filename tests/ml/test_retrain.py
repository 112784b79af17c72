"""The retrain decision of the monitoring job (churn.retrain): drift retrains, the cooldown stops a loop, and
the task value reaches the job only on Databricks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from churn.errors import ChurnError
from churn.retrain import RETRAIN_TASK_VALUE, RUNTIME_ENV_VAR, decide_retrain, last_registered, publish

from tests.ml.test_cli import fails_with

NOW = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)


def test_confirmed_drift_retrains_when_nothing_was_trained_recently():
    decision = decide_retrain(
        drift_detected=True, last_trained_at=NOW - timedelta(days=8), now=NOW, cooldown_days=7
    )
    assert decision.retrain and decision.task_value == "true"


def test_a_retrain_within_the_cooldown_is_not_repeated():
    """A retrain whose challenger the gate refused still registered a version: drift that training cannot fix
    retrains once per cooldown, not on every daily monitoring run."""
    decision = decide_retrain(
        drift_detected=True, last_trained_at=NOW - timedelta(days=2), now=NOW, cooldown_days=7
    )
    assert not decision.retrain and "cooldown" in decision.reason


def test_no_drift_never_retrains_and_a_model_without_versions_retrains_on_drift():
    assert not decide_retrain(drift_detected=False, last_trained_at=None, now=NOW, cooldown_days=7).retrain
    assert decide_retrain(drift_detected=True, last_trained_at=None, now=NOW, cooldown_days=7).retrain


def test_the_task_value_is_set_on_databricks_only(monkeypatch):
    decision = decide_retrain(drift_detected=True, last_trained_at=None, now=NOW, cooldown_days=7)
    monkeypatch.delenv(RUNTIME_ENV_VAR, raising=False)
    assert publish(decision) is False  # locally: no task values, nothing to do
    values: dict[str, str] = {}
    assert publish(decision, lambda key, value: values.update({key: value})) is True
    assert values == {RETRAIN_TASK_VALUE: "true"}


def test_on_a_cluster_without_dbutils_the_task_fails_in_one_line(monkeypatch):
    import builtins

    monkeypatch.setenv(RUNTIME_ENV_VAR, "18.0")
    real_import = builtins.__import__

    def no_dbutils(name, *args, **kwargs):
        if name == "databricks.sdk.runtime":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dbutils)
    with pytest.raises(ChurnError, match="--retrain-cooldown-days: dbutils"):
        publish(decide_retrain(drift_detected=False, last_trained_at=None, now=NOW, cooldown_days=7))


def test_the_newest_registered_version_is_what_the_cooldown_counts_from(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MLflow's SQL store makes its default ./mlruns on start
    from churn.tracking import TrackingTarget
    from mlflow.tracking import MlflowClient

    TrackingTarget.local(tmp_path, "churn").use_registry()  # as the other local runs do: SQLite in tmp_path
    client = MlflowClient()
    assert last_registered("churn") is None
    client.create_registered_model("churn")
    old = client.create_model_version("churn", source=(tmp_path / "m1").as_uri())
    new = client.create_model_version("churn", source=(tmp_path / "m2").as_uri())
    client.set_registered_model_alias("churn", "champion", old.version)
    client.set_registered_model_alias("churn", "challenger", new.version)
    newest = client.get_model_version("churn", new.version).creation_timestamp
    assert last_registered("churn") == datetime.fromtimestamp(newest / 1000, tz=UTC)


@pytest.mark.parametrize(("args", "why"), [(["--retrain-cooldown-days", "0"], "positive"),
                                           (["--retrain-cooldown-days", "7"], "registry")])  # fmt: skip
def test_monitor_refuses_a_retrain_decision_it_cannot_make(capsys, tmp_path, args, why):
    batch = tmp_path / "batch.csv"
    batch.write_text("a,b\n1,2\n")
    error = fails_with(capsys, "monitor", "--reference", str(batch), "--current", str(batch), *args)
    assert "--retrain-cooldown-days" in error and why in error


def test_a_version_whose_alias_was_moved_back_by_hand_still_counts(tmp_path, monkeypatch):
    """A retrain registered version 2, then someone rolled `challenger` (and `champion`) back to version 1 by
    hand: the cooldown still counts from version 2, or the next drifting run retrains again (the loop)."""
    monkeypatch.chdir(tmp_path)
    from churn.tracking import TrackingTarget
    from mlflow.tracking import MlflowClient

    TrackingTarget.local(tmp_path, "churn").use_registry()
    client = MlflowClient()
    client.create_registered_model("churn")
    old = client.create_model_version("churn", source=(tmp_path / "m1").as_uri())
    new = client.create_model_version("churn", source=(tmp_path / "m2").as_uri())
    for alias in ("champion", "challenger"):
        client.set_registered_model_alias("churn", alias, old.version)
    newest = client.get_model_version("churn", new.version).creation_timestamp
    assert last_registered("churn") == datetime.fromtimestamp(newest / 1000, tz=UTC)


def test_every_page_of_the_registry_counts(monkeypatch):
    """The Unity Catalog registry answers search_model_versions in pages: the newest version may be on a later
    one."""
    from types import SimpleNamespace

    import mlflow.tracking
    from mlflow.store.entities.paged_list import PagedList

    day = 24 * 3600 * 1000
    pages = {None: PagedList([SimpleNamespace(creation_timestamp=1 * day)], "p2"),
             "p2": PagedList([SimpleNamespace(creation_timestamp=9 * day)], None)}  # fmt: skip

    class PagedRegistry:
        def search_model_versions(self, filter_string, page_token=None):
            assert filter_string == "name = 'cat.ml.churn'"
            return pages[page_token]

        def get_model_version_by_alias(self, name, alias):  # what an alias-only count would ask
            raise mlflow.exceptions.MlflowException("no alias")

    monkeypatch.setattr(mlflow.tracking, "MlflowClient", PagedRegistry)
    assert last_registered("cat.ml.churn") == datetime.fromtimestamp(9 * 24 * 3600, tz=UTC)
