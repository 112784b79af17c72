"""`churn serve`: the local champion behind MLflow's own scoring server (`mlflow models serve`'s server for a
python_function model), on loopback by default.

The work directory is only read: a mistyped path is refused in one line instead of being created with an empty
MLflow store. Requests follow MLflow's scoring protocol: POST /invocations with `dataframe_split` or
`dataframe_records` JSON (or CSV) of the model's 23 inputs; GET /ping and /health for readiness. MLflow
answers malformed bodies and wrong columns with 4xx and keeps serving.
"""

from __future__ import annotations

import errno
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from churn.errors import ChurnError
from churn.tracking import CHAMPION, LOCAL_STORE_FILE, TrackingTarget, champion

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class ServedChampion:
    model_uri: str
    version: str


def local_champion(workdir: Path, model_name: str) -> ServedChampion:
    """The champion of a local work directory, without creating anything there."""
    workdir = Path(workdir)
    if not workdir.is_dir():
        raise ChurnError(f"--workdir: '{workdir}' is not a directory; give the one `churn pipeline` used")
    if not (workdir / LOCAL_STORE_FILE).is_file():
        raise ChurnError(
            f"--workdir: '{workdir}' has no MLflow store ({LOCAL_STORE_FILE}); run `churn pipeline` there"
        )
    TrackingTarget.local(workdir, "churn").use_registry()
    version = champion(model_name)
    return ServedChampion(f"models:/{model_name}@{CHAMPION}", str(version.version))


def check_port(port: int) -> None:
    if not 1 <= port <= 65535:
        raise ChurnError(f"--port: {port} is not a TCP port (1-65535)")


def check_port_free(host: str, port: int) -> None:
    """Refuse a taken port before the model is loaded, rather than after with uvicorn's log. Bound with
    SO_REUSEADDR as uvicorn binds, so a port in TIME_WAIT that uvicorn could take is not refused."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (OSError, UnicodeError) as exc:
        raise ChurnError(f"--host: cannot listen on '{host}': {exc}") from exc
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            why = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror})"
            raise ChurnError(f"--port: {host}:{port} {why}; pick another port") from exc


def server_command(
    model_path: str, *, host: str, port: int, timeout_seconds: int
) -> tuple[list[str], dict[str, str]]:
    """uvicorn on MLflow's scoring app (through churn.scoring_app), with the environment MLflow's own `get_cmd`
    gives it (the model path, the request timeout). Run with this interpreter: `uvicorn` by name is not on PATH
    when the venv is used without activating it."""
    from mlflow.pyfunc import scoring_server

    _, env = scoring_server.get_cmd(model_path, port, host, timeout_seconds, 1)
    argv = [sys.executable, "-m", "uvicorn", "--host", host, "--port", str(port), "--workers", "1",
            "churn.scoring_app:app"]  # fmt: skip
    return argv, env


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve(model: ServedChampion, *, host: str, port: int, timeout_seconds: int) -> None:
    """Run the scoring server until it stops (Ctrl-C stops it cleanly); a server that fails is one line."""
    from mlflow.artifacts import download_artifacts

    argv, env = server_command(
        download_artifacts(artifact_uri=model.model_uri),
        host=host,
        port=port,
        timeout_seconds=timeout_seconds,
    )
    server = subprocess.Popen(argv, env=env)
    # A SIGTERM to this process alone (a supervisor, `kill <pid>`) must stop the server too: Python's default
    # action would end this process and leave uvicorn running on the port, orphaned.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        code = server.wait()
    except KeyboardInterrupt:
        server.terminate()
        server.wait(timeout=30)
        return
    finally:
        signal.signal(signal.SIGTERM, previous)
    if code not in (0, -signal.SIGTERM, -signal.SIGINT):
        raise ChurnError(f"--port: the scoring server on {host}:{port} stopped (exit {code}); is the port in use? "
                         "Its log is above")  # fmt: skip
