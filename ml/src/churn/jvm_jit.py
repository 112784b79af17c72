"""How hard the local JVM's just-in-time compiler works, chosen per run by the data it reads.

A small local run (the Telco file, a test batch) is over before the JVM's optimising compiler (C2) pays back the
CPU it spends compiling Spark's own code on two cores: with the quick compiler alone (C1) the Telco pipeline takes
a quarter less wall time and 40% less CPU. A large batch runs long enough for C2's faster code to win, so it keeps
the full compiler. bench/ml.md has the figures both ways. `CHURN_JVM_JIT` overrides the choice (`quick`, `full`,
`auto`).
Never on Databricks: the cluster's JVM is not ours to start.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable, Iterator

from churn.errors import ChurnError

QUICK = "quick"
FULL = "full"
AUTO = "auto"
CHOICES = (AUTO, QUICK, FULL)
ENV = "CHURN_JVM_JIT"
# The quick compiler only, without profiling for a second tier.
QUICK_OPTIONS = "-XX:TieredStopAtLevel=1"
# Up to this much data (raw input plus the work directory's tables) a run counts as small. Measured (bench/ml.md):
# ingest with the quick compiler is 8% slower at 100,000 customers (13 MB of CSV) and 34% at 300,000, while the
# 7,043-row Telco pipeline (1 MB) takes a quarter less time; the break-even lies near 60,000 rows, 8 MB.
SMALL_RUN_BYTES = 8 * 2**20

# Hadoop's codecs for text files, by suffix (what Spark decompresses a CSV with).
_COMPRESSED_SUFFIXES = (".gz", ".bz2", ".deflate", ".lz4", ".snappy", ".zst")
_UNPACKED_RATIO = 8
_DELTA_LOG = "_delta_log"
_COMMIT_FILE = re.compile(r"^[0-9]{20}\.json$")

# Options naming the data a local command reads: raw files and the work directory (its tables).
_DATA_OPTIONS = ("--input", "--reference", "--current")
_WORKDIR_OPTION = "--workdir"


def choice() -> str:
    """`CHURN_JVM_JIT`, checked: a typo is refused, not silently read as `auto`."""
    raw = os.environ.get(ENV, AUTO)
    value = raw.strip().lower() or AUTO
    if value not in CHOICES:
        raise ChurnError(f"{ENV}: '{raw}' is not one of {', '.join(CHOICES)}")
    return value


def option_values(argv: list[str], option: str) -> list[str]:
    """Every value given to `option` in `argv`, as `--option VALUE` or `--option=VALUE` (the command uses the
    last one)."""
    values = []
    for i, arg in enumerate(argv):
        if arg == option and i + 1 < len(argv):
            values.append(argv[i + 1])
        elif arg.startswith(f"{option}="):
            values.append(arg[len(option) + 1 :])
    return values


def _data_bytes(path: str) -> int:
    """A file's size as data to parse, through a link as Spark reads it: a compressed CSV counts as what it
    unpacks to (the Telco file unpacks to 6.3 times its size; 8 errs towards the full compiler)."""
    size = os.stat(path).st_size
    return size * _UNPACKED_RATIO if path.endswith(_COMPRESSED_SUFFIXES) else size


def _files_under(path: str) -> Iterator[str]:
    """Files under a folder, through linked folders (Hadoop's listing follows them), each folder once."""
    seen: set[tuple[int, int]] = set()
    for folder, folders, files in os.walk(path, followlinks=True):
        try:
            found = os.stat(folder)
        except OSError:
            folders[:] = []
            continue
        if (found.st_dev, found.st_ino) in seen:  # a link back up the tree
            folders[:] = []
            continue
        seen.add((found.st_dev, found.st_ino))
        folders[:] = [name for name in folders if name != _DELTA_LOG]
        yield from (os.path.join(folder, name) for name in files)


def _live_table_bytes(table: str) -> int | None:
    """The files of a Delta table's current version: its log's adds not removed since. A merge or an overwrite
    leaves the files it replaced on disk until a vacuum; a run reads none of them. None when the log's first
    commits are gone (cleaned up behind a checkpoint) or unreadable: then every data file counts."""
    log = os.path.join(table, _DELTA_LOG)
    try:
        commits = sorted(name for name in os.listdir(log) if _COMMIT_FILE.match(name))
        if not commits or commits[0] != f"{0:020d}.json":
            return None
        live: dict[str, int] = {}
        for name in commits:
            with open(os.path.join(log, name), encoding="utf-8") as actions:
                for line in filter(str.strip, actions):
                    action = json.loads(line)
                    if "add" in action:
                        live[action["add"]["path"]] = int(action["add"].get("size", 0))
                    elif "remove" in action:
                        live.pop(action["remove"]["path"], None)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return sum(live.values())


def _bytes_under(path: str, *, stop_above: int) -> int:
    if os.path.isfile(path):
        return _data_bytes(path)
    if os.path.isdir(os.path.join(path, _DELTA_LOG)):
        live = _live_table_bytes(path)
        if live is not None:
            return live
    total = 0
    for file in _files_under(path):
        try:
            total += _data_bytes(file)
        except OSError:
            continue  # removed while we looked, or a link to nothing: no data for this run
        if total > stop_above:
            break
    return total


def bytes_on_disk(paths: Iterable[str], *, stop_above: int) -> int:
    """Bytes of data under `paths` (files, folders or Delta tables; missing ones count 0), counted until
    `stop_above` is passed: a folder of a million files is not walked to the end just to learn it is large."""
    total = 0
    for path in paths:
        try:
            total += _bytes_under(path, stop_above=stop_above - total)
        except OSError:
            continue
        if total > stop_above:
            break
    return total


def run_data_bytes(argv: list[str], *, stop_above: int = SMALL_RUN_BYTES) -> int | None:
    """The data a local run reads: its raw files and the current versions of its work directory's Delta tables
    (not the MLflow store: models and plots say nothing about how many rows Spark will process). None when it
    reads from a cloud or DBFS path, whose size cannot be told from here. A landing folder counts whole, the
    files ingest landed before included (telling them apart needs the bronze table): CHURN_JVM_JIT=quick then."""
    paths = [values[-1] for option in _DATA_OPTIONS if (values := option_values(argv, option))]
    if any("://" in p or p.startswith("dbfs:") for p in paths):
        return None
    for workdir in option_values(argv, _WORKDIR_OPTION)[-1:]:
        tables = os.path.join(workdir, "tables")
        with contextlib.suppress(OSError):
            paths += sorted(os.path.join(tables, name) for name in os.listdir(tables))
    return bytes_on_disk(paths, stop_above=stop_above)


def java_options(argv: list[str]) -> str:
    """The JIT options for a local run of `argv`: the quick compiler for a small run, none (the JVM's full tiered
    compilation) for a large one or one of unknown size."""
    chosen = choice()
    if chosen == AUTO:
        size = run_data_bytes(argv)
        chosen = QUICK if size is not None and size <= SMALL_RUN_BYTES else FULL
    return QUICK_OPTIONS if chosen == QUICK else ""
