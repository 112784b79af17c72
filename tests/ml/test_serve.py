"""`churn serve` over real HTTP on loopback: MLflow's scoring server for the local champion answers valid
requests with probabilities and malformed ones with a clear 4xx, keeps serving, and stops when told."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from churn.features import CATEGORICAL_FEATURES, FEATURE_COLUMNS, NUMERIC_FEATURES

from tests.ml.test_cli import fails_with

STARTUP_SECONDS = 120
REQUEST_SECONDS = 30


def _features(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({c: rng.normal(size=rows) for c in NUMERIC_FEATURES})
    for column in CATEGORICAL_FEATURES:
        frame[column] = rng.choice(["a", "b", "c"], size=rows)
    return frame[FEATURE_COLUMNS]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A work directory with a registered champion, made the way `churn train` logs it (a scikit-learn pipeline
    of churn.modeling, predict_proba as the pyfunc, a signature) but on a small synthetic frame: what is tested
    here is the serving, not the learning."""
    import mlflow
    from churn.modeling import logistic_regression
    from churn.tracking import CHAMPION, TrackingTarget
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient

    workdir = tmp_path_factory.mktemp("serve")
    x = _features(200, seed=1)
    y = (x["monthly_charges"] + (x["contract"] == "a") > 0.5).astype(int).to_numpy()
    model = logistic_regression(seed=1).fit(x, y)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workdir)  # MLflow's SQL store makes a default ./mlruns on start
        TrackingTarget.local(workdir, "churn").activate()
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=infer_signature(x, model.predict_proba(x)),
                pyfunc_predict_fn="predict_proba",
            )
        version = mlflow.register_model(info.model_uri, "churn")
        MlflowClient().set_registered_model_alias("churn", CHAMPION, version.version)
    return workdir


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(url: str, body: bytes | None = None, content_type: str = "application/json") -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type} if body else {})
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_SECONDS) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture(scope="module")
def server(workdir, tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("serve-log") / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "churn.cli", "serve", "--workdir", str(workdir), "--port", str(port)],
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the uvicorn child goes down with it
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"churn serve exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if _request(f"{base}/ping")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"churn serve not ready after {STARTUP_SECONDS}s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield base, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)


def test_valid_rows_get_churn_probabilities(server):
    base, _ = server
    rows = _features(3, seed=2)
    status, body = _request(
        f"{base}/invocations", json.dumps({"dataframe_split": rows.to_dict(orient="split")}).encode()
    )
    assert status == 200, body
    predictions = json.loads(body)["predictions"]
    assert len(predictions) == 3 and all(len(p) == 2 and abs(sum(p) - 1) < 1e-6 for p in predictions)


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"{not json", "application/json", 400),
        (
            json.dumps({"dataframe_split": {"columns": ["tenure_months"], "data": [[1]]}}).encode(),
            "application/json",
            400,
        ),
        (json.dumps({"rows": []}).encode(), "application/json", 400),
        (b"tenure_months\n1\n", "text/plain", 415),
    ],
    ids=["broken-json", "missing-columns", "unknown-format", "unsupported-content-type"],
)
def test_malformed_requests_get_a_clear_4xx_and_the_server_keeps_serving(
    server, body, content_type, expected
):
    base, process = server
    status, text = _request(f"{base}/invocations", body, content_type)
    assert status == expected, text
    assert text.strip(), "the error names what is wrong"
    assert process.poll() is None and _request(f"{base}/ping")[0] == 200


def test_the_server_stops_when_told(server):
    _, process = server
    os.killpg(process.pid, signal.SIGTERM)
    assert process.wait(timeout=30) is not None


def test_a_mistyped_workdir_is_refused_and_not_created(capsys, tmp_path):
    missing = tmp_path / "no-such-run"
    error = fails_with(capsys, "serve", "--workdir", str(missing))
    assert "--workdir" in error and not missing.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no MLflow store" in fails_with(capsys, "serve", "--workdir", str(empty))
    assert list(empty.iterdir()) == []


def test_a_port_out_of_range_is_refused(capsys, tmp_path):
    assert "--port" in fails_with(capsys, "serve", "--workdir", str(tmp_path), "--port", "70000")


def test_a_port_in_use_is_refused_in_one_line_before_the_model_loads(capfd, workdir):
    """Checked at the file-descriptor level: uvicorn's own startup log must not reach the user."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        error = fails_with(capfd, "serve", "--workdir", str(workdir), "--port", str(port))
    assert error == f"error: --port: 127.0.0.1:{port} is in use; pick another port"


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in children.read_text().split()] if children.exists() else []


def test_a_sigterm_to_churn_serve_alone_stops_the_scoring_server_too(workdir, tmp_path):
    """A supervisor (or `kill <pid>`) signals only the process it started: the uvicorn child must not outlive
    it, orphaned and holding the port."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "churn.cli", "serve", "--workdir", str(workdir), "--port", str(port)],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                if _request(f"http://127.0.0.1:{port}/ping")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert process.poll() is None and time.monotonic() < deadline, "churn serve did not start"
            time.sleep(0.5)
        (child,) = _children(process.pid)
        os.kill(process.pid, signal.SIGTERM)  # this process only, not its group
        process.wait(timeout=30)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not Path(f"/proc/{child}").exists(), "the scoring server outlived churn serve"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
