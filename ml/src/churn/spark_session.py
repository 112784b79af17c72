"""Spark sessions: a tuned local one for laptops and tests, the cluster's own on Databricks."""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import tempfile
import threading
from importlib import resources

from pyspark import SparkContext
from pyspark.sql import SparkSession

_prestarted: dict[str, object] = {}
_prestart_lock = threading.Lock()


def local_spark(
    app_name: str = "churn", *, cores: int | str = "*", driver_memory: str = "4g"
) -> SparkSession:
    """A local[*] session whose Python workers run this interpreter (so spark_udf sees our packages).

    If `prestart_local_spark` started one in the background, this waits for it (and re-raises its error)."""
    with _prestart_lock:
        started = _prestarted.pop("thread", None)
    if isinstance(started, threading.Thread):
        started.join()
        held = _prestarted.pop("output", None)
        if isinstance(held, _HeldOutput):
            held.release()
        _prestarted["used"] = True
        error = _prestarted.pop("error", None)
        if isinstance(error, BaseException):
            raise error
        session = _build_local_spark(app_name, cores=cores, driver_memory=driver_memory)
        if _prestarted.pop("warm", False):
            threading.Thread(target=_warm_python_workers, args=(session,), name="churn-warm-workers",
                             daemon=True).start()  # fmt: skip
        return session
    return _build_local_spark(app_name, cores=cores, driver_memory=driver_memory)


# Spark's Python worker daemon that imports MLflow and scikit-learn before it forks the workers (local scoring).
SCORING_DAEMON = "churn.spark_worker_daemon"


def _warm_python_workers(session: SparkSession) -> None:
    """Start the Python worker daemon now, with a one-row pandas UDF (the kind spark_udf is), so its imports run
    while the command does its other work, not when it reaches the scoring step. Silent: if it fails, the
    scoring step starts the daemon itself."""
    try:
        import pandas as pd
        from pyspark.sql.functions import pandas_udf

        def same(ids):
            return ids

        # Real objects, not this module's postponed (string) annotations: pandas_udf resolves the hints in this
        # module's globals, where `pd` is not defined.
        same.__annotations__ = {"ids": pd.Series, "return": pd.Series}
        session.range(1, numPartitions=1).select(pandas_udf(same, "long")("id")).collect()
    except BaseException:  # an optimisation only; the session may also be stopping at exit
        pass


def _local_options(
    app_name: str, cores: int | str, driver_memory: str, java_extra: str = "", python_daemon: str = ""
) -> dict[str, str]:
    """`java_extra`: more options for the driver JVM (the class data sharing archive, churn.jvm_cds; the JIT
    compiler's, churn.jvm_jit).
    `python_daemon`: the module Spark forks Python workers from, if not pyspark's own."""
    log_config = resources.files("churn").joinpath("log4j2.properties")
    daemon = {"spark.python.daemon.module": python_daemon} if python_daemon else {}
    return daemon | {
        "spark.master": f"local[{cores}]",
        "spark.app.name": app_name,
        "spark.driver.memory": driver_memory,
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{log_config} {java_extra}".strip(),
        "spark.sql.shuffle.partitions": "4",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # Parquet staged for deltalake must carry microsecond UTC timestamps, not Spark's legacy INT96.
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.sql.warehouse.dir": os.path.join(tempfile.gettempdir(), "churn-spark-warehouse"),
        # Python workers import MLflow to score; its default logging setup would echo the SQLite store's
        # schema checks into the job's output once per worker.
        "spark.executorEnv.MLFLOW_CONFIGURE_LOGGING": "false",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.eventLog.enabled": "false",
    }


def _build_local_spark(app_name: str, *, cores: int | str, driver_memory: str) -> SparkSession:
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    # A laptop session needs no routable address; this also silences Spark's hostname warning.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from churn import jvm_cds

    builder = SparkSession.builder
    java_extra = (
        ""
        if SparkContext._gateway is not None
        else jvm_cds.java_options(f"-Xmx{driver_memory}", may_dump=False)[0]
    )
    for key, value in _local_options(app_name, cores, driver_memory, java_extra).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


# What every local JVM prints on start (Java 21's notice for Spark's vector module, Spark's log-level notice for
# interactive shells): no news, and it would come before a refused command's one line.
_START_UP_BANNERS = (
    b"WARNING: Using incubator modules:",
    b'Setting default log level to "',
    b"To adjust logging level use sc.setLogLevel(",
)


class _HeldOutput:
    """The JVM's stderr, held back until the session is used: a command that refuses its options before it needs
    Spark prints its one line and nothing from a JVM it never used."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: list[bytes] = []
        self._released = False

    def pump(self, stream) -> None:
        for line in iter(stream.readline, b""):
            if line.startswith(_START_UP_BANNERS):
                continue
            with self._lock:
                if self._released:
                    os.write(2, line)
                else:
                    self._held.append(line)

    def release(self) -> None:
        with self._lock:
            for line in self._held:
                os.write(2, line)
            self._held.clear()
            self._released = True


def _start_in_background(held: _HeldOutput, python_daemon: str, jit_options: str) -> None:
    from pyspark import SparkConf
    from pyspark.java_gateway import launch_gateway

    from churn import jvm_cds

    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    if SparkContext._gateway is None:  # a session of this process already runs: nothing to launch
        java_extra, dump = jvm_cds.java_options("-Xmx4g", may_dump=True)
        java_extra = f"{java_extra} {jit_options}".strip()
        if dump is not None:
            atexit.register(_finish_dump, dump)  # before the launch: a command may end while the JVM starts
        conf = SparkConf(loadDefaults=False).setAll(
            list(_local_options("churn", "*", "4g", java_extra, python_daemon).items())
        )
        gateway = launch_gateway(conf, popen_kwargs={"stderr": subprocess.PIPE})
        if dump is not None:
            dump.proc = gateway.proc
        threading.Thread(target=held.pump, args=(gateway.proc.stderr,), daemon=True).start()
        SparkContext._ensure_initialized(gateway=gateway, conf=conf)
        if dump is not None:
            dump.classpath = gateway.jvm.java.lang.System.getProperty("java.class.path")
    _build_local_spark("churn", cores="*", driver_memory="4g")


def _finish_dump(dump) -> None:
    """At exit of a run that writes the class data sharing archive: stop Spark (its Python side first, so nothing
    reports the JVM going away), then let the JVM end and write the archive. A command that never used Spark (it
    refused its options) waits for its JVM to be up only to kill it: no archive from a JVM that did nothing."""
    used = bool(_prestarted.get("used"))
    thread = _prestarted.get("thread")
    if not used and isinstance(thread, threading.Thread):
        thread.join(120)
    if used and SparkContext._active_spark_context is not None:
        try:
            SparkContext._active_spark_context.stop()
        except Exception:
            used = False  # the JVM may be gone already; the archive is then just not kept
    dump.finish(used=used)


def prestart_local_spark(*, warm_python_workers: bool = False, jit_options: str = "") -> None:
    """Start the default local session in a background thread, so the JVM boots while Python imports
    scikit-learn and MLflow; `local_spark()` then picks it up. Writes nothing, and holds back what the JVM prints
    until `local_spark()` is called: a command that then refuses its options exits as before (the JVM ends with
    the process).

    `warm_python_workers` (a command that scores with spark_udf): Python workers are forked from a daemon that
    imported MLflow and scikit-learn, started as soon as `local_spark()` hands out the session. `jit_options`: the
    JIT compiler's options for this run (churn.jvm_jit)."""
    with _prestart_lock:
        if "thread" in _prestarted:
            return
        held = _HeldOutput()
        _prestarted["warm"] = warm_python_workers

        def start() -> None:
            try:
                _start_in_background(held, SCORING_DAEMON if warm_python_workers else "", jit_options)
            except BaseException as exc:  # handed to the caller of local_spark()
                _prestarted["error"] = exc

        thread = threading.Thread(target=start, name="churn-spark-start", daemon=True)
        _prestarted["thread"] = thread
        _prestarted["output"] = held
        thread.start()


def cluster_spark() -> SparkSession:
    """The session Databricks already runs for the job or notebook."""
    return SparkSession.builder.getOrCreate()
