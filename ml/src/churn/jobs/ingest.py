"""Ingest job: raw CSV -> contract -> bronze, quarantine, silver, features."""

from __future__ import annotations

import csv
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from churn.contract import CORRUPT_RECORD_COLUMN, Contract, check_structure, split_rows
from churn.errors import ChurnError, ContractViolation
from churn.features import KEY, build_features, to_bronze, to_silver
from churn.jobs import Report, no_report
from churn.runtime import BRONZE, FEATURES, QUARANTINE, SILVER, Runtime


@dataclass(frozen=True)
class ContractedBatch:
    """A structurally valid batch split by the contract, not yet written anywhere."""

    source: str
    batch_id: str
    ingested_at: datetime
    bronze: DataFrame
    silver: DataFrame
    quarantined: DataFrame


@dataclass(frozen=True)
class IngestResult:
    source: str
    batch_id: str
    rows_read: int
    rows_valid: int
    rows_quarantined: int
    table_versions: dict[str, int] = field(default_factory=dict)


def _is_local_path(path: str) -> bool:
    return "://" not in path and not path.startswith("dbfs:")


def read_raw_csv(spark: SparkSession, path: str) -> DataFrame:
    """Every column as text, as landed; lines with the wrong number of fields keep their text in
    `_corrupt_record` so the contract can quarantine them. `path` may be a file or a folder of drops that
    share one header."""
    if _is_local_path(path) and not os.path.exists(path):
        raise ChurnError(f"--input: '{path}' does not exist")
    first_line = spark.read.text(path).limit(1).collect()
    if not first_line or not first_line[0][0].strip():
        raise ContractViolation(path, ["no header line"])
    header = next(csv.reader([first_line[0][0]]))
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise ContractViolation(path, [f"column '{name}' appears more than once" for name in duplicated])
    schema = T.StructType(
        [T.StructField(name, T.StringType()) for name in header]
        + [T.StructField(CORRUPT_RECORD_COLUMN, T.StringType())]
    )
    return spark.read.csv(
        path, header=True, schema=schema, mode="PERMISSIVE", columnNameOfCorruptRecord=CORRUPT_RECORD_COLUMN
    )


def contracted_batch(
    spark: SparkSession, path: str, contract: Contract, *, require_label: bool
) -> ContractedBatch:
    """Read a raw file and apply the contract. Raises ContractViolation before anything is written."""
    raw = read_raw_csv(spark, path)
    check_structure(raw, contract, source=path, require_label=require_label)
    batch_id = uuid.uuid4().hex
    ingested_at = datetime.now(UTC)
    bronze = to_bronze(raw, source=path, batch_id=batch_id, ingested_at=ingested_at)
    split = split_rows(bronze, contract, require_label=require_label)
    stage = "ingest" if require_label else "score"
    return ContractedBatch(
        source=path,
        batch_id=batch_id,
        ingested_at=ingested_at,
        bronze=bronze,
        silver=to_silver(split.valid),
        quarantined=split.quarantined.withColumn("_stage", F.lit(stage)),
    )


def run_ingest(runtime: Runtime, input_path: str, *, report: Report = no_report) -> IngestResult:
    store = runtime.store
    report("checking the data contract")
    batch = contracted_batch(runtime.spark, input_path, Contract.load(), require_label=True)

    report("writing bronze")
    store.append(BRONZE, batch.bronze)
    rows_read = store.read(BRONZE).filter(F.col("_batch_id") == batch.batch_id).count()
    report("quarantining rows that break the contract")
    rows_quarantined = batch.quarantined.count()
    if rows_quarantined:
        store.append(QUARANTINE, batch.quarantined)
    report("writing silver and features")
    store.upsert(SILVER, batch.silver, key=KEY)
    store.upsert(FEATURES, build_features(batch.silver), key=KEY)
    store.declare_primary_key(FEATURES, KEY)

    versions = {
        name: store.version(name) for name in (BRONZE, SILVER, FEATURES, QUARANTINE) if store.exists(name)
    }
    return IngestResult(
        source=input_path,
        batch_id=batch.batch_id,
        rows_read=rows_read,
        rows_valid=rows_read - rows_quarantined,
        rows_quarantined=rows_quarantined,
        table_versions=versions,
    )
