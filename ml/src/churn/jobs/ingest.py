"""Ingest job: the new files of a landing folder -> contract -> bronze, quarantine, silver, features.

Every file is read by its own header and the files are combined by column name, never by position. A batch is
the set of files not landed before; its identity is derived from them (path, size, modification time), so a
re-run lands nothing twice and a failed run can simply be run again. Bronze is written last: a file counts
as landed only once everything it feeds has been written.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import reduce

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from churn.contract import (
    CORRUPT_RECORD_COLUMN,
    QUARANTINE_REASON_COLUMN,
    Contract,
    as_of_time,
    check_structure,
    distinct_keys,
    key_copies,
    split_rows,
)
from churn.errors import ChurnError, ContractViolation, printable
from churn.features import AS_OF, KEY, build_features, to_bronze, to_silver
from churn.jobs import Report, no_report
from churn.runtime import BRONZE, FEATURES, QUARANTINE, SILVER, Runtime

FILE_ID_COLUMN = "_file_id"
# Text that a CSV line never holds: control characters other than tab, and the replacement character Spark
# puts where bytes are not UTF-8. A header line with any of them is a binary file (Parquet, zip, gzip without
# its suffix), not CSV.
_GLOB_CHARACTERS = re.compile(r"([\[\]{}*?\\])")
# Files Hadoop and Spark write beside the data (job commit markers, checksums): skipped on purpose.
_COMMIT_MARKER = re.compile(r"^(_SUCCESS|_committed_.*|_started_.*|\..*\.crc)$")
_BINARY_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")


@dataclass(frozen=True)
class LandingFile:
    """One file of a landing folder as the file system lists it."""

    path: str
    size: int
    modified: datetime

    @property
    def identity(self) -> str:
        """Stable for an unchanged file; a rewritten or touched file gets a new one."""
        return hashlib.sha256(f"{self.path}\0{self.size}\0{self.modified.isoformat()}".encode()).hexdigest()

    @property
    def shown(self) -> str:
        return shown(self.path)


def shown(path: str) -> str:
    """A path as the user gave it (local files without Spark's `file:` scheme), safe to print."""
    return printable(path.removeprefix("file:"), limit=200)


@dataclass(frozen=True)
class ContractedBatch:
    """A structurally valid batch split by the contract, not yet written anywhere."""

    source: str
    batch_id: str
    ingested_at: datetime
    files: tuple[LandingFile, ...]
    skipped: tuple[LandingFile, ...]
    rows_read: int
    bronze: DataFrame | None
    silver: DataFrame | None
    quarantined: DataFrame | None
    rows_quarantined: int = 0
    # Frames persisted while checking, so the writes read each file once instead of re-parsing it per table.
    cached: tuple[DataFrame, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.files

    def release(self) -> None:
        """Drop the frames cached for the writes (call once everything is written)."""
        for frame in self.cached:
            frame.unpersist()


@dataclass(frozen=True)
class IngestResult:
    source: str
    batch_id: str
    rows_read: int
    rows_valid: int
    rows_quarantined: int
    files_landed: int = 0
    files_skipped: int = 0
    table_versions: dict[str, int] = field(default_factory=dict)


def _is_local_path(path: str) -> bool:
    return "://" not in path and not path.startswith("dbfs:")


def _unreadable(file: str, exc: Exception) -> ChurnError:
    text = str(exc)
    if re.search(r"EOFException|end of input stream|GZIP|ZipException|incorrect header check", text):
        why = "truncated or corrupt compressed data"
    elif "MalformedInput" in text or "UTF" in text:
        why = "not UTF-8 text"
    else:
        why = "Spark could not read it"
    return ChurnError(f"{shown(file)}: cannot be read as CSV ({why}); nothing was written")


def spark_path(path: str) -> str:
    """`path` with Hadoop's glob characters escaped: a file named `batch[1].csv` or `{a}.csv` is that file."""
    return _GLOB_CHARACTERS.sub(r"\\\1", path)


def _names_spark_cannot_read(path: str) -> list[str]:
    """Files (or folders) under a local `path` that Spark would skip without a word (a name starting with `_`
    or `.`) or fail on with a Java stack trace (a `:` in the name, which Hadoop paths cannot hold); Hadoop's own
    commit markers (`_SUCCESS`, `.crc` checksums) are meant to be skipped and are not listed."""
    found: list[str] = []
    for folder, folders, files in os.walk(path):
        for name in [*folders, *files]:
            if _COMMIT_MARKER.match(name):
                continue
            if name.startswith(("_", ".")) or ":" in name:
                found.append(os.path.join(folder, name))
    if os.path.isfile(path):
        name = os.path.basename(path)
        if (name.startswith(("_", ".")) or ":" in name) and not _COMMIT_MARKER.match(name):
            found.append(path)
    return sorted(found)


def _empty_files(path: str) -> list[str]:
    """Zero-byte files under a local `path`: Spark's file listing drops them without a word, so a feed that
    wrote nothing would look like a feed that sent nothing."""
    if os.path.isfile(path):
        return [path] if os.path.getsize(path) == 0 else []
    return sorted(
        os.path.join(folder, name)
        for folder, _, files in os.walk(path)
        for name in files
        if not _COMMIT_MARKER.match(name) and os.path.getsize(os.path.join(folder, name)) == 0
    )


def _listed(names: list[str], shown: int = 5) -> str:
    """The first few names, quoted, and how many more: one error line however many files are wrong."""
    quoted = ", ".join(f"'{printable(name, limit=200)}'" for name in names[:shown])
    return quoted + (f" and {len(names) - shown} more" if len(names) > shown else "")


def list_landing_files(spark: SparkSession, path: str) -> list[LandingFile]:
    """Every file under `path` (a file or a folder, searched recursively), with size and modification time.

    Spark's binaryFile source lists local, Volume and cloud paths alike; only metadata is read here. Every
    local file is either listed or named in the error: Spark hides names starting with `_` or `.` and cannot
    open names with `:`, so those are refused, one line, naming them (rename them to land them)."""
    if _is_local_path(path) and not os.path.exists(path):
        raise ChurnError(f"--input: '{printable(path, limit=200)}' does not exist")
    if _is_local_path(path):
        hidden = _names_spark_cannot_read(path)
        if hidden:
            raise ChurnError(
                f"--input: Spark cannot read {_listed(hidden)}: a name starting with '_' or '.' is skipped and "
                "a ':' is not allowed in a Hadoop path; rename them; nothing was written"
            )
        empty = _empty_files(path)
        if empty:
            raise ChurnError(
                f"--input: {_listed(empty)}: empty file (0 bytes, not even a header line); "
                "remove it or re-export it; nothing was written"
            )
    try:
        rows = (
            spark.read.format("binaryFile")
            .option("recursiveFileLookup", "true")
            .load(spark_path(path))
            .select("path", "length", "modificationTime")
            .collect()
        )
    except Exception as exc:  # any listing failure is the input's problem, told in one line
        raise ChurnError(
            f"--input: cannot list '{printable(path, limit=200)}': {printable(exc, limit=120)}"
        ) from exc
    files = [
        LandingFile(r["path"], int(r["length"]), r["modificationTime"].replace(tzinfo=UTC)) for r in rows
    ]
    if not files:
        raise ChurnError(f"--input: '{printable(path, limit=200)}' holds no files")
    return sorted(files, key=lambda f: f.path)


def _header(spark: SparkSession, file: str) -> list[str]:
    try:
        first = spark.read.text(spark_path(file)).limit(1).collect()
    except Exception as exc:
        raise _unreadable(file, exc) from exc
    line = first[0][0].lstrip("\ufeff") if first and first[0][0] else ""
    if _BINARY_TEXT.search(line):
        raise ChurnError(f"{shown(file)}: is not CSV text (binary content); nothing was written")
    if not line.strip():
        raise ContractViolation(shown(file), ["no header line"])
    header = next(csv.reader([line]))
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise ContractViolation(
            shown(file),
            [f"column '{printable(n)}' appears more than once" for n in duplicated],
        )
    return header


def read_csv_file(spark: SparkSession, file: str) -> DataFrame:
    """One CSV file, every column as text, named by the file's own header.

    The schema is the file's header in the file's order, so Spark's positional mapping (`enforceSchema`) is
    exactly the header's; lines with the wrong number of fields keep their text in `_corrupt_record`."""
    header = _header(spark, file)
    schema = T.StructType(
        [T.StructField(name, T.StringType()) for name in header]
        + [T.StructField(CORRUPT_RECORD_COLUMN, T.StringType())]
    )
    return spark.read.csv(
        spark_path(file),
        header=True,
        schema=schema,
        mode="PERMISSIVE",
        columnNameOfCorruptRecord=CORRUPT_RECORD_COLUMN,
    )


def read_raw_csv(spark: SparkSession, path: str) -> DataFrame:
    """Every file under `path` read by its own header and combined by column name (missing ones are null)."""
    frames = [read_csv_file(spark, f.path) for f in list_landing_files(spark, path)]
    return reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)


def _checked(spark: SparkSession, file: LandingFile, contract: Contract, *, require_label: bool):
    # Cached: the structure check's pass fills it, and the key count, the row split and bronze then read the
    # parsed rows from memory instead of parsing the CSV again for each.
    raw = read_csv_file(spark, file.path).cache()
    try:
        rows = check_structure(raw, contract, source=file.shown, require_label=require_label)
    except ContractViolation:
        raw.unpersist()
        raise
    except Exception as exc:  # a file that breaks while Spark reads it is unreadable input
        raw.unpersist()
        raise _unreadable(file.path, exc) from exc
    return raw, rows


def contracted_batch(
    spark: SparkSession,
    path: str,
    contract: Contract,
    *,
    require_label: bool,
    landed: frozenset[str] = frozenset(),
    max_quarantined_share: float | None = None,
    stage: str = "ingest",
) -> ContractedBatch:
    """Read the files under `path` not `landed` before and apply the contract to each.

    Raises before anything is written: ContractViolation for a structural break (naming the file), ChurnError
    for an unreadable file or a batch whose quarantined share is above the ceiling. Files without the label
    column are accepted when `require_label` is false (customers to score); their label is null.
    """
    files = list_landing_files(spark, path)
    new = tuple(f for f in files if f.identity not in landed)
    skipped = tuple(f for f in files if f.identity in landed)
    batch_id = hashlib.sha256("\n".join(sorted(f.identity for f in new)).encode()).hexdigest()[:32]
    ingested_at = datetime.now(UTC)
    if not new:
        return ContractedBatch(path, batch_id, ingested_at, (), skipped, 0, None, None, None)

    cached: list[DataFrame] = []
    try:
        return _split_batch(spark, path, contract, require_label=require_label, new=new, skipped=skipped,
                            batch_id=batch_id, ingested_at=ingested_at, stage=stage, cached=cached,
                            ceiling=contract.max_quarantined_share if max_quarantined_share is None
                            else max_quarantined_share)  # fmt: skip
    except BaseException:
        for frame in cached:
            frame.unpersist()
        raise


def _split_batch(
    spark: SparkSession,
    path: str,
    contract: Contract,
    *,
    require_label: bool,
    new: tuple[LandingFile, ...],
    skipped: tuple[LandingFile, ...],
    batch_id: str,
    ingested_at: datetime,
    stage: str,
    cached: list[DataFrame],
    ceiling: float,
) -> ContractedBatch:
    checked = []
    for file in new:
        raw, rows = _checked(spark, file, contract, require_label=require_label)
        cached.append(raw)
        checked.append((file, raw, rows))
    rows_read = sum(rows for _, _, rows in checked)
    # One row per customer per batch: a key repeated anywhere in the batch, in one file or across two, lands
    # once when its copies are identical and is quarantined in every copy when they differ (contract.py).
    repeated_keys = key_copies([raw for _, raw, _ in checked], contract).cache()
    cached.append(repeated_keys)
    bronze, valid, quarantined = [], [], []
    for file, raw, _ in checked:
        landed_rows = to_bronze(
            raw, source=file.shown, batch_id=batch_id, ingested_at=ingested_at
        ).withColumn(FILE_ID_COLUMN, F.lit(file.identity))
        split = split_rows(
            landed_rows,
            contract,
            require_label=require_label and contract.label in raw.columns,
            batch_key_copies=repeated_keys,
        )
        bronze.append(landed_rows)
        labelled = split.valid
        if contract.label not in labelled.columns:
            labelled = labelled.withColumn(contract.label, F.lit(None).cast("string"))
        labelled = labelled.withColumn(AS_OF, as_of_time(labelled, contract, ingested_at=ingested_at))
        valid.append(labelled)
        quarantined.append(split.quarantined.withColumn("_stage", F.lit(stage)))

    def union(frames: list[DataFrame]) -> DataFrame:
        return reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)

    rejected = union(quarantined).cache()
    cached.append(rejected)
    rows_quarantined = _check_quarantined_share(path, rejected, rows_read, ceiling)
    # Silver feeds two writes (silver, and features built from it): computed once.
    silver = to_silver(distinct_keys(union(valid), contract)).cache()
    cached.append(silver)
    return ContractedBatch(
        source=path,
        batch_id=batch_id,
        ingested_at=ingested_at,
        files=new,
        skipped=skipped,
        rows_read=rows_read,
        bronze=union(bronze),
        silver=silver,
        quarantined=rejected,
        rows_quarantined=rows_quarantined,
        cached=tuple(cached),
    )


def _check_quarantined_share(source: str, quarantined: DataFrame, rows_read: int, ceiling: float) -> int:
    """A feed where too many rows break the contract is broken as a whole: refuse it, write nothing.
    Returns the number of quarantined rows (counted once; the writes reuse it)."""
    count = quarantined.count()
    if count and count / rows_read > ceiling:
        top = quarantined.groupBy(QUARANTINE_REASON_COLUMN).count().orderBy(F.desc("count")).first()
        raise ChurnError(
            f"{printable(source, limit=200)}: {count} of {rows_read} rows "
            f"({count / rows_read:.0%}) break the data contract, above the ceiling of {ceiling:.0%}; "
            f"most often '{printable(top[QUARANTINE_REASON_COLUMN], limit=120)}'; nothing was written"
        )
    return count


def landed_file_ids(runtime: Runtime) -> frozenset[str]:
    store = runtime.store
    if not store.exists(BRONZE):
        return frozenset()
    bronze = store.read(BRONZE)
    if FILE_ID_COLUMN not in bronze.columns:
        return frozenset()
    return frozenset(r[0] for r in bronze.select(FILE_ID_COLUMN).distinct().collect())


def run_ingest(
    runtime: Runtime,
    input_path: str,
    *,
    max_quarantined_share: float | None = None,
    report: Report = no_report,
) -> IngestResult:
    # Held from "which files are new" to the last write: two runs over one folder land each file once.
    with runtime.store.exclusive():
        return _ingest(runtime, input_path, max_quarantined_share=max_quarantined_share, report=report)


def _ingest(
    runtime: Runtime, input_path: str, *, max_quarantined_share: float | None, report: Report
) -> IngestResult:
    store = runtime.store
    report("checking the new files against the data contract")
    batch = contracted_batch(
        runtime.spark,
        input_path,
        Contract.load(),
        require_label=False,
        landed=landed_file_ids(runtime),
        max_quarantined_share=max_quarantined_share,
    )
    if batch.empty:
        report(f"nothing new: {len(batch.skipped)} file(s) already landed")
        return IngestResult(input_path, batch.batch_id, 0, 0, 0, 0, len(batch.skipped), _versions(runtime))

    try:
        _write_batch(store, batch, report)
    finally:
        batch.release()
    return IngestResult(
        source=input_path,
        batch_id=batch.batch_id,
        rows_read=batch.rows_read,
        rows_valid=batch.rows_read - batch.rows_quarantined,  # identical copies of a customer included
        rows_quarantined=batch.rows_quarantined,
        files_landed=len(batch.files),
        files_skipped=len(batch.skipped),
        table_versions=_versions(runtime),
    )


def _write_batch(store, batch: ContractedBatch, report: Report) -> None:
    # Every write is keyed by the batch id (replace the batch's rows, or upsert by customer), so a re-run
    # of a failed batch, or a second run that raced this one, leaves one copy.
    if batch.rows_quarantined:
        report("quarantining rows that break the contract")
        store.replace_batch(
            QUARANTINE, batch.quarantined, batch={"_batch_id": batch.batch_id, "_stage": "ingest"}
        )
    report("writing silver and features")
    # The later export wins, not the later arrival: a stored row is replaced only by one at least as recent.
    store.upsert(SILVER, batch.silver, key=KEY, as_of=AS_OF)
    features = build_features(batch.silver).select(
        "*",
        F.lit(batch.batch_id).alias("_batch_id"),
        F.lit(batch.ingested_at).cast("timestamp").alias("_ingested_at"),
    )
    store.upsert(FEATURES, features, key=KEY, as_of=AS_OF)
    store.declare_primary_key(FEATURES, KEY)
    report("writing bronze")
    store.replace_batch(BRONZE, batch.bronze, batch={"_batch_id": batch.batch_id})


def _versions(runtime: Runtime) -> dict[str, int]:
    store = runtime.store
    return {
        name: store.version(name) for name in (BRONZE, SILVER, FEATURES, QUARANTINE) if store.exists(name)
    }
