"""Class data sharing for the local Spark JVM: the classes a `churn` run loads (Spark, Scala, Delta, Hadoop), kept
as a JDK dynamic CDS archive in the user's cache, so the next local JVM maps them instead of parsing and verifying
them again (bench/ml.md: about 7 CPU seconds less per `churn pipeline`).

Local runs only (never on Databricks, whose session is the cluster's). The first `churn` run of a Spark command
writes the archive when its JVM ends (it waits for the dump, some seconds); later runs use it. The archive is per
JDK, Spark and jar set (a key in its name), written to a temporary name and renamed when the JVM ended cleanly and
the JDK accepts it, and used only while its size is the one in its name (the JVM would crash on a truncated
archive). Anything going wrong here (no cache directory, read-only, no `java`) means running without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

# A mismatched archive is ignored by the JVM with a warning on stdout; dumping warns about every class it skips.
_QUIET = "-Xlog:cds*=off"
_STALE_TEMP_SECONDS = 3600
_DUMP_WAIT_SECONDS = 180


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "churn" / "jvm-cds"


def enabled() -> bool:
    return not os.environ.get("DATABRICKS_RUNTIME_VERSION") and os.environ.get("CHURN_JVM_CDS", "1") != "0"


def _java() -> Path | None:
    """The `java` spark-submit runs: $JAVA_HOME/bin/java, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    found = os.path.join(home, "bin", "java") if home else shutil.which("java")
    return Path(os.path.realpath(found)) if found and os.path.exists(found) else None


def _spark_jars() -> Path | None:
    import pyspark

    home = os.environ.get("SPARK_HOME") or os.path.dirname(pyspark.__file__)
    jars = Path(home) / "jars"
    return jars if jars.is_dir() else None


def archive_key(java: Path, jars: Path, java_options: str) -> str:
    """Changes with the JDK (its binaries), the Spark jars (names, sizes, times) and the options the JVM starts with."""
    import pyspark

    digest = hashlib.sha256(f"v1|{pyspark.__version__}|{java_options}".encode())
    for path in (java, *sorted(java.parent.parent.glob("lib/server/libjvm.so"))):
        stat = path.stat()
        digest.update(f"|{path}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    for entry in sorted(os.scandir(jars), key=lambda e: e.name):
        stat = entry.stat()
        digest.update(f"|{entry.name}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:24]


def usable_archive(directory: Path, key: str) -> Path | None:
    """`<key>-<size>.jsa` whose size on disk is the one in its name; of two (two first runs at once each kept
    one), the larger: it holds the classes of the run that did more."""
    usable: list[tuple[int, Path]] = []
    with contextlib.suppress(OSError):
        for path in directory.glob(f"{key}-*.jsa"):
            size = path.name[len(key) + 1 : -len(".jsa")]
            if size.isdigit() and path.stat().st_size == int(size) > 0:
                usable.append((int(size), path))
    return max(usable)[1] if usable else None


class Dump:
    """An archive the JVM writes when it exits: `finish` ends the JVM and keeps the archive if the JDK accepts it."""

    def __init__(self, directory: Path, key: str, java: Path, java_options: str) -> None:
        self.directory, self.key, self.java, self.java_options = directory, key, java, java_options
        self.temp = directory / f"{key}.{os.getpid()}.{time.time_ns()}.tmp"
        self.proc: subprocess.Popen | None = None  # the JVM, once launched
        self.classpath: str | None = None  # its class path, once it answers

    @property
    def option(self) -> str:
        return f"-XX:ArchiveClassesAtExit={self.temp} {_QUIET}"

    def finish(self, *, used: bool) -> None:
        """Called at exit. `used`: the session ran Spark work (else the JVM is killed: no dump for a refused
        command, which exits at once)."""
        proc, classpath = self.proc, self.classpath
        try:
            if proc is None:
                return
            if not used or classpath is None:
                proc.kill()
                proc.wait(30)
                return
            if proc.stdin is not None:
                proc.stdin.close()  # PythonGatewayServer exits on EOF; the JVM then writes the archive
            if proc.wait(_DUMP_WAIT_SECONDS) == 0 and self._accepted(classpath):
                size = self.temp.stat().st_size
                os.replace(self.temp, self.directory / f"{self.key}-{size}.jsa")
        except (OSError, subprocess.SubprocessError):
            with contextlib.suppress(OSError):
                proc.kill()  # type: ignore[union-attr]
        finally:
            with contextlib.suppress(OSError):
                self.temp.unlink()

    def _accepted(self, classpath: str) -> bool:
        """The JDK maps the new archive with sharing required (a truncated or broken one fails here, not in the
        next run's JVM)."""
        if not self.temp.is_file() or self.temp.stat().st_size == 0:
            return False
        check = [str(self.java), "-Xshare:on", f"-XX:SharedArchiveFile={self.temp}", _QUIET,
                 *self.java_options.split(), "-cp", classpath, "-version"]  # fmt: skip
        done = subprocess.run(check, capture_output=True, timeout=60, check=False)
        return done.returncode == 0


def java_options(memory_options: str, *, may_dump: bool) -> tuple[str, Dump | None]:
    """JVM options for the local driver: use the archive if there is one; else, if `may_dump`, write one at exit.
    `memory_options`: the options that shape the heap (`-Xmx...`): part of the key, they decide the archive's
    compressed pointers."""
    if not enabled():
        return "", None
    try:
        java, jars = _java(), _spark_jars()
        if java is None or jars is None:
            return "", None
        directory = cache_dir()
        key = archive_key(java, jars, memory_options)
        archive = usable_archive(directory, key)
        if archive is not None:
            return f"-XX:SharedArchiveFile={archive} {_QUIET}", None
        if not may_dump:
            return "", None
        directory.mkdir(parents=True, exist_ok=True)
        if not os.access(directory, os.W_OK | os.X_OK):
            return "", None
        _remove_stale_temps(directory)
        dump = Dump(directory, key, java, memory_options)
        return dump.option, dump
    except OSError:
        return "", None


def _remove_stale_temps(directory: Path) -> None:
    """Archives of JVMs whose Python ended without waiting for them (killed)."""
    now = time.time()
    for path in directory.glob("*.tmp"):
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime > _STALE_TEMP_SECONDS:
                path.unlink()
