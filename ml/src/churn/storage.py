"""One table interface, two homes: Delta tables under a local work directory (through `deltalake`, bridged
with Arrow) and Unity Catalog tables (native Spark Delta on Databricks). Jobs only see `TableStore`."""

from __future__ import annotations

import contextlib
import fcntl
import re
import shutil
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from churn.errors import ChurnError

LOCK_FILE = "churn.lock"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_identifier(value: str, *, option: str) -> str:
    if not _IDENTIFIER.match(value or ""):
        raise ChurnError(
            f"{option}: '{value}' is not a valid name (letters, digits and _, not starting with a digit)"
        )
    return value


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _require_unique_keys(name: str, key: str, *, rows: int, distinct: int) -> None:
    """An upsert source with a key twice would write both copies (new key) or fail mid-merge (existing key):
    refuse it before writing. Callers quarantine repeated keys first, so this guards the rule, not data."""
    if rows != distinct:
        raise ChurnError(
            f"table '{name}': {rows - distinct} repeated {key} value(s) in one write; "
            "each key must come once per batch"
        )


class TableStore(ABC):
    """Named Delta tables read and written as Spark DataFrames."""

    spark: SparkSession

    @abstractmethod
    def location(self, name: str) -> str:
        """Where the table lives, for lineage (a path or a three-level name)."""

    @abstractmethod
    def exists(self, name: str) -> bool: ...

    @abstractmethod
    def read(self, name: str, *, version: int | None = None) -> DataFrame:
        """The table now, or as of an earlier Delta version (time travel, for lineage and reproduction)."""

    @abstractmethod
    def append(self, name: str, df: DataFrame) -> None: ...

    @abstractmethod
    def overwrite(self, name: str, df: DataFrame) -> None: ...

    @abstractmethod
    def replace_batch(self, name: str, df: DataFrame, *, batch: dict[str, str]) -> None:
        """Replace the rows of one batch (rows whose `batch` columns hold those values) with `df`, in one
        commit (Delta's replaceWhere); creates the table on first use. Writing a batch again leaves one copy."""

    def exclusive(self) -> contextlib.AbstractContextManager[None]:
        """Held around a job's read-decide-write sequence so concurrent runs of one batch land it once."""
        return contextlib.nullcontext()

    @abstractmethod
    def upsert(self, name: str, df: DataFrame, *, key: str, as_of: str | None = None) -> None:
        """Insert new keys, replace rows of existing keys; creates the table on first use.

        `as_of`: a timestamp column; an existing row is replaced only when the new one's is not older (a stored
        row without one, from before the column existed, is always replaced)."""

    @abstractmethod
    def version(self, name: str) -> int:
        """The table's current Delta version."""

    def declare_primary_key(self, name: str, key: str) -> None:  # noqa: B027 - optional capability
        """Mark `key` as the table's primary key where the catalog supports it (feature tables)."""

    def require(self, name: str) -> None:
        if not self.exists(name):
            raise ChurnError(f"table '{self.location(name)}' does not exist; run `churn ingest` first")


class LocalDeltaStore(TableStore):
    """Delta tables in `<workdir>/tables/<name>`.

    Spark writes the frame to a staging Parquet directory and `deltalake` streams it into the table, so no
    frame is collected on the driver; reads hand Spark the Parquet files of the current snapshot.
    """

    def __init__(self, spark: SparkSession, workdir: Path):
        self.spark = spark
        self.workdir = Path(workdir)
        self.tables_dir = self.workdir / "tables"
        self.staging_dir = self.workdir / "_staging"

    def location(self, name: str) -> str:
        return str(self.tables_dir / name)

    def exists(self, name: str) -> bool:
        from deltalake import DeltaTable

        return DeltaTable.is_deltatable(self.location(name))

    def _table(self, name: str, version: int | None = None):
        from deltalake import DeltaTable
        from deltalake.exceptions import DeltaError

        self.require(name)
        try:
            return DeltaTable(self.location(name), version=version)
        except DeltaError as exc:
            raise ChurnError(f"table '{self.location(name)}' has no version {version}") from exc

    def read(self, name: str, *, version: int | None = None) -> DataFrame:
        table = self._table(name, version)
        unsupported = set(table.protocol().reader_features or []) - {"timestampNtz"}
        files = table.file_uris()
        if unsupported or not files:
            # Deletion vectors or column mapping need a Delta reader; so does an empty table's schema.
            return self.spark.createDataFrame(table.to_pyarrow_table())
        return self.spark.read.parquet(*files)

    def _staged(self, df: DataFrame):
        """Write `df` with Spark to a staging directory and yield it as an Arrow stream with nullable fields."""
        path = self.staging_dir / uuid.uuid4().hex
        df.write.parquet(str(path))
        dataset = pads.dataset(str(path), format="parquet")
        schema = pa.schema([f.with_nullable(True) for f in dataset.schema])
        batches = (batch.cast(schema) for batch in dataset.to_batches())
        return path, pa.RecordBatchReader.from_batches(schema, batches)

    def _write(self, name: str, df: DataFrame, mode: str) -> None:
        from deltalake import write_deltalake

        path, reader = self._staged(df)
        try:
            # Appends may add columns (a batch with the label after one without; new metadata columns).
            schema_mode = "overwrite" if mode == "overwrite" else "merge"
            write_deltalake(self.location(name), reader, mode=mode, schema_mode=schema_mode)
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def append(self, name: str, df: DataFrame) -> None:
        self._write(name, df, "append")

    def overwrite(self, name: str, df: DataFrame) -> None:
        self._write(name, df, "overwrite")

    def replace_batch(self, name: str, df: DataFrame, *, batch: dict[str, str]) -> None:
        from deltalake import write_deltalake

        path, reader = self._staged(df)
        try:
            if not self.exists(name):
                write_deltalake(self.location(name), reader, mode="append", schema_mode="merge")
                return
            predicate = " AND ".join(f'"{column}" = {_sql_text(value)}' for column, value in batch.items())
            write_deltalake(
                self.location(name), reader, mode="overwrite", predicate=predicate, schema_mode="merge"
            )
        finally:
            shutil.rmtree(path, ignore_errors=True)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        # One writer at a time per work directory: deltalake's optimistic commits alone would let two runs that
        # both found a batch new each land it (the second append does not conflict with the first).
        created = not self.workdir.exists()
        self.workdir.mkdir(parents=True, exist_ok=True)
        lock = self.workdir / LOCK_FILE
        try:
            with open(lock, "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            # A refused first batch leaves no work directory behind: nothing was written.
            if created and {p.name for p in self.workdir.iterdir()} <= {LOCK_FILE}:
                lock.unlink(missing_ok=True)
                self.workdir.rmdir()

    def upsert(self, name: str, df: DataFrame, *, key: str, as_of: str | None = None) -> None:
        from deltalake import write_deltalake

        path, reader = self._staged(df)
        try:
            keys = pads.dataset(str(path), format="parquet").to_table(columns=[key]).column(key)
            _require_unique_keys(name, key, rows=len(keys), distinct=pc.count_distinct(keys).as_py())
            if not self.exists(name):
                write_deltalake(self.location(name), reader, mode="append", schema_mode="merge")
                return
            table = self._table(name)
            newer = None
            if as_of is not None and as_of in table.schema().to_arrow().names:
                newer = f'target."{as_of}" IS NULL OR source."{as_of}" >= target."{as_of}"'
            (
                table.merge(
                    source=reader,
                    predicate=f'target."{key}" = source."{key}"',
                    source_alias="source",
                    target_alias="target",
                    merge_schema=True,
                )
                .when_matched_update_all(predicate=newer)
                .when_not_matched_insert_all()
                .execute()
            )
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def version(self, name: str) -> int:
        return int(self._table(name).version())


class UnityCatalogStore(TableStore):
    """Managed Delta tables `<catalog>.<schema>.<name>` through the cluster's Spark session."""

    def __init__(self, spark: SparkSession, catalog: str, schema: str):
        self.spark = spark
        self.catalog = check_identifier(catalog, option="--catalog")
        self.schema = check_identifier(schema, option="--schema")

    def location(self, name: str) -> str:
        return f"{self.catalog}.{self.schema}.{check_identifier(name, option='table name')}"

    def _quoted(self, name: str) -> str:
        return ".".join(f"`{part}`" for part in self.location(name).split("."))

    def exists(self, name: str) -> bool:
        return bool(self.spark.catalog.tableExists(self.location(name)))

    def read(self, name: str, *, version: int | None = None) -> DataFrame:
        self.require(name)
        if version is None:
            return self.spark.table(self.location(name))
        return self.spark.read.option("versionAsOf", version).table(self.location(name))

    def append(self, name: str, df: DataFrame) -> None:
        df.write.format("delta").mode("append").option("mergeSchema", "true").saveAsTable(self.location(name))

    def overwrite(self, name: str, df: DataFrame) -> None:
        df.write.format("delta").mode("overwrite").option("overwriteSchema", "true").saveAsTable(
            self.location(name)
        )

    def replace_batch(self, name: str, df: DataFrame, *, batch: dict[str, str]) -> None:
        if not self.exists(name):
            self.append(name, df)
            return
        # replaceWhere reads the batch's rows, so a concurrent writer of the same batch makes one of the two
        # commits fail with a conflict (Delta optimistic concurrency: read, write, validate and commit;
        # https://docs.delta.io/concurrency-control) instead of landing it twice.
        predicate = " AND ".join(f"`{column}` = {_sql_text(value)}" for column, value in batch.items())
        df.write.format("delta").mode("overwrite").option("replaceWhere", predicate).option(
            "mergeSchema", "true"
        ).saveAsTable(self.location(name))

    def upsert(self, name: str, df: DataFrame, *, key: str, as_of: str | None = None) -> None:
        counts = df.agg(F.count(F.lit(1)).alias("rows"), F.count_distinct(key).alias("distinct")).first()
        _require_unique_keys(name, key, rows=counts["rows"], distinct=counts["distinct"])
        if not self.exists(name):
            self.append(name, df)
            return
        newer = ""
        if as_of is not None:
            if as_of not in self.spark.table(self.location(name)).columns:
                # A table from before the as-of rule: add the column (null: replaced by the next row of its key);
                # UPDATE SET * would refuse a source column the target lacks.
                # https://docs.databricks.com/tables/update-schema (ALTER TABLE ... ADD COLUMNS)
                self.spark.sql(f"ALTER TABLE {self._quoted(name)} ADD COLUMNS (`{as_of}` TIMESTAMP)")
            newer = f" AND (target.`{as_of}` IS NULL OR source.`{as_of}` >= target.`{as_of}`)"
        view = f"churn_upsert_{uuid.uuid4().hex}"
        df.createOrReplaceTempView(view)
        try:
            self.spark.sql(
                f"MERGE INTO {self._quoted(name)} AS target USING {view} AS source "
                f"ON target.`{key}` = source.`{key}` "
                f"WHEN MATCHED{newer} THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
            )
        finally:
            self.spark.catalog.dropTempView(view)

    def version(self, name: str) -> int:
        self.require(name)
        return int(self.spark.sql(f"DESCRIBE HISTORY {self._quoted(name)} LIMIT 1").first()["version"])

    def declare_primary_key(self, name: str, key: str) -> None:
        # A primary key makes the table usable as a Unity Catalog feature table.
        table = self._quoted(name)
        self.spark.sql(f"ALTER TABLE {table} ALTER COLUMN `{key}` SET NOT NULL")
        existing = self.spark.sql(
            f"SELECT constraint_name FROM `{self.catalog}`.information_schema.table_constraints "
            f"WHERE table_schema = '{self.schema}' "
            f"AND table_name = '{name}' AND constraint_type = 'PRIMARY KEY'"
        )
        if existing.isEmpty():
            self.spark.sql(f"ALTER TABLE {table} ADD CONSTRAINT `{name}_pk` PRIMARY KEY (`{key}`)")
