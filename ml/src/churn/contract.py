"""The data contract for the raw Telco layout, enforced at ingest and at scoring.

Two levels, because they call for different actions:
- structure (columns present, no unexpected ones, types not changed): a batch that breaks it is rejected
  whole with a report, before anything is written;
- rows (missing values, values outside the allowed set or range, malformed lines, duplicated keys,
  cross-field rules): the offending rows are quarantined with a reason, the rest go on.

One row per customer: copies of a key in one batch (one file or several) that are identical (every contract
value the same after trimming: an exporter's retry) land once; a key whose copies differ is quarantined in every
copy, since the batch cannot tell which is right, unless their export times (`ExportedAt`) tell: then the latest
copy lands and older ones are superseded; across batches the latest export wins: a row replaces the stored one of its
customer only when its as-of time (the optional `ExportedAt` column, else the batch's ingest time) is not older,
so an old export re-sent after a newer one changes nothing (silver and features are upserted by key under that
condition). docs/ml-lifecycle.md states the rule.

A text column (CSV) "changed type" when most of its non-blank values do not parse as the declared type; a few
unparseable cells are row problems, a column that no longer holds numbers is a structural one.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Literal

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from churn.errors import ContractViolation, printable

ColumnType = Literal["string", "integer", "double"]
CORRUPT_RECORD_COLUMN = "_corrupt_record"
QUARANTINE_REASON_COLUMN = "_quarantine_reason"
KEY_TEXT_COLUMN = "__key_text"
KEY_COPIES_COLUMN = "__key_copies"
KEY_VERSIONS_COLUMN = "__key_versions"

_INTEGER_TEXT = r"^[+-]?[0-9]+$"
_DECIMAL_TEXT = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_SPARK_TYPE_ACCEPTED: dict[str, tuple[type[T.DataType], ...]] = {
    "string": (T.StringType,),
    "integer": (T.ByteType, T.ShortType, T.IntegerType, T.LongType),
    "double": (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType, T.DecimalType),
}
_SPARK_TYPE_PRODUCED: dict[str, T.DataType] = {
    "string": T.StringType(),
    "integer": T.IntegerType(),
    "double": T.DoubleType(),
}


@dataclass(frozen=True)
class ColumnRule:
    name: str
    type: ColumnType
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    pattern: str | None = None
    min: float | None = None
    max: float | None = None
    # May be absent from a file (the as-of column); checked like any other column when present.
    optional: bool = False


@dataclass(frozen=True)
class RowCheck:
    name: str
    expr: str
    reason: str


@dataclass(frozen=True)
class Contract:
    name: str
    version: int
    key: str
    label: str
    type_change_fraction: float
    max_quarantined_share: float
    columns: tuple[ColumnRule, ...]
    row_checks: tuple[RowCheck, ...] = field(default_factory=tuple)
    # The column saying when the source exported a row: of two batches, the later export wins, whatever order
    # they arrive in (rows without it are as of their ingest).
    as_of: str | None = None

    @classmethod
    def load(cls, path: Path | None = None) -> Contract:
        """The contract shipped with the package, or one from a JSON file."""
        if path is None:
            text = resources.files("churn").joinpath("contracts/telco_raw.json").read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        spec = json.loads(text)
        columns = tuple(
            ColumnRule(**{**c, "allowed": tuple(c["allowed"]) if "allowed" in c else None})
            for c in spec["columns"]
        )
        return cls(
            name=spec["name"],
            version=int(spec["version"]),
            key=spec["key"],
            label=spec["label"],
            type_change_fraction=float(spec["type_change_fraction"]),
            max_quarantined_share=float(spec["max_quarantined_share"]),
            columns=columns,
            row_checks=tuple(RowCheck(**r) for r in spec.get("row_checks", [])),
            as_of=spec.get("as_of"),
        )

    def expected_columns(self, *, require_label: bool) -> list[ColumnRule]:
        return [c for c in self.columns if (require_label or c.name != self.label) and not c.optional]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass(frozen=True)
class RowSplit:
    """Rows that passed (typed per the contract) and rows that did not (as landed, with a reason)."""

    valid: DataFrame
    quarantined: DataFrame


# The row rules are SQL text, one expression per value check: built as Column objects they took thousands of calls
# into the JVM per batch, a second of a small batch's ingest (bench/ml.md); the text is parsed once per expression.
def _sql_name(name: str) -> str:
    """A column name as a SQL identifier, whatever a CSV header holds."""
    return "`" + name.replace("`", "``") + "`"


def _sql_text(value: str) -> str:
    """A string literal: Spark SQL reads backslash escapes in literals (regular expressions keep theirs)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _sql_double(value: float) -> str:
    if math.isinf(value):
        return f"CAST('{'-' if value < 0 else ''}Infinity' AS DOUBLE)"
    return f"{float(value)!r}D"


def _blank(text: str) -> str:
    return f"({text} IS NULL OR trim({text}) = '')"


def _parses(rule: ColumnRule, text: str) -> str:
    # try_cast: Spark 4 runs in ANSI mode, where `cast` of bad text raises and AND does not short-circuit.
    if rule.type == "integer":
        in_range = f"try_cast({text} AS BIGINT) BETWEEN {-(2**31)} AND {2**31 - 1}"
        return f"({text} RLIKE {_sql_text(_INTEGER_TEXT)} AND {in_range})"
    if rule.type == "double":
        return f"({text} RLIKE {_sql_text(_DECIMAL_TEXT)})"
    return "TRUE"


def _typed(rule: ColumnRule, text: str) -> str:
    parsed = f"CASE WHEN NOT {_blank(text)} AND {_parses(rule, text)} THEN {text} END"
    return f"try_cast({parsed} AS {_SPARK_TYPE_PRODUCED[rule.type].simpleString()})"


def _trimmed_text(name: str) -> str:
    return f"trim(CAST({_sql_name(name)} AS STRING))"


def check_structure(df: DataFrame, contract: Contract, *, source: str, require_label: bool) -> int:
    """Raise ContractViolation listing every structural problem of the batch; else return its row count.

    Structural: missing, unexpected or duplicated columns, a column whose values no longer parse as its type,
    and a required (non-nullable) column that is empty in every row (a broken feed, not bad rows)."""
    problems: list[str] = []
    names = df.columns
    duplicated = sorted({n for n in names if names.count(n) > 1})
    problems += [f"column '{n}' appears more than once" for n in duplicated]

    expected = contract.expected_columns(require_label=require_label)
    allowed_names = set(contract.column_names) | {CORRUPT_RECORD_COLUMN}
    problems += [f"missing column '{c.name}'" for c in expected if c.name not in names]
    problems += [f"unexpected column '{n}'" for n in names if n not in allowed_names and n not in duplicated]

    present = {f.name: f.dataType for f in df.schema.fields}
    text_rules: list[ColumnRule] = []
    for rule in contract.columns:
        if rule.name not in present or rule.name in duplicated:
            continue
        spark_type = present[rule.name]
        if isinstance(spark_type, T.StringType):
            if rule.type != "string":
                text_rules.append(rule)
        elif not isinstance(spark_type, _SPARK_TYPE_ACCEPTED[rule.type]):
            problems.append(
                f"column '{rule.name}' changed type: expected {rule.type}, got {spark_type.simpleString()}"
            )
    if problems:
        raise ContractViolation(source, problems)

    # One pass over the batch for the row count, the filled values of each required column and, per numeric
    # text column, how much of it parses.
    aggregates = ["count(1) AS rows"]
    required = [r for r in contract.columns if not r.nullable and r.name in present]
    aggregates += [
        f"sum(CASE WHEN NOT {_blank(f'CAST({_sql_name(r.name)} AS STRING)')} THEN 1 ELSE 0 END) AS required_{i}"
        for i, r in enumerate(required)
    ]
    for i, rule in enumerate(text_rules):
        text = f"trim({_sql_name(rule.name)})"
        unparseable = f"(NOT {_blank(text)} AND NOT {_parses(rule, text)})"
        aggregates += [
            f"sum(CASE WHEN NOT {_blank(text)} THEN 1 ELSE 0 END) AS filled_{i}",
            f"sum(CASE WHEN {unparseable} THEN 1 ELSE 0 END) AS bad_{i}",
            f"first(CASE WHEN {unparseable} THEN {text} END, true) AS example_{i}",
        ]
    stats = df.selectExpr(*aggregates).first()
    if not stats["rows"]:
        raise ContractViolation(source, ["no data rows"])
    problems += [
        f"required column '{r.name}' is empty in every row"
        for i, r in enumerate(required)
        if not stats[f"required_{i}"]
    ]
    for i, rule in enumerate(text_rules):
        filled, bad = stats[f"filled_{i}"] or 0, stats[f"bad_{i}"] or 0
        if filled and bad / filled > contract.type_change_fraction:
            problems.append(
                f"column '{rule.name}' changed type: {bad} of {filled} values are not {rule.type}"
                f" (e.g. '{printable(stats[f'example_{i}'])}')"
            )
    if problems:
        raise ContractViolation(source, problems)
    return int(stats["rows"])


def _value_reasons(rule: ColumnRule, text: str, typed: str) -> list[str]:
    """Why a value breaks its column's rule, one SQL expression per check (NULL when it does not)."""
    blank = _blank(text)
    shown = f"concat({_sql_text(chr(39))}, {text}, {_sql_text(chr(39))})"
    named = _sql_text(f"{rule.name}: ")
    reasons: list[str] = []
    if not rule.nullable:
        reasons.append(f"CASE WHEN {blank} THEN {_sql_text(f'{rule.name}: missing')} END")
    if rule.type != "string":
        reasons.append(
            f"CASE WHEN NOT {blank} AND {typed} IS NULL "
            f"THEN concat({_sql_text(f'{rule.name}: not {rule.type}: ')}, {shown}) END"
        )
    if rule.allowed is not None:
        listed = _sql_text(f" is not one of {', '.join(rule.allowed)}")
        reasons.append(
            f"CASE WHEN NOT {blank} AND NOT ({text} IN ({', '.join(map(_sql_text, rule.allowed))})) "
            f"THEN concat({named}, {shown}, {listed}) END"
        )
    if rule.pattern is not None:
        reasons.append(
            f"CASE WHEN NOT {blank} AND NOT ({text} RLIKE {_sql_text(rule.pattern)}) "
            f"THEN concat({named}, {shown}, {_sql_text(f' does not match {rule.pattern}')}) END"
        )
    if rule.min is not None or rule.max is not None:
        low = rule.min if rule.min is not None else float("-inf")
        high = rule.max if rule.max is not None else float("inf")
        reasons.append(
            f"CASE WHEN {typed} IS NOT NULL AND NOT ({typed} BETWEEN {_sql_double(low)} AND {_sql_double(high)}) "
            f"THEN concat({named}, {text}, {_sql_text(f' outside [{low:g}, {high:g}]')}) END"
        )
    return reasons


def _row_content(df: DataFrame, contract: Contract) -> Column:
    """A row's contract values as trimmed text, so copies of a customer can be compared across files whatever
    their column order; an absent column and a null one read alike (to_json drops nulls). The as-of column is
    left out: it orders copies (`_copy_order`), it is not a value of the customer."""
    names = [
        c for c in (*contract.column_names, CORRUPT_RECORD_COLUMN) if c in df.columns and c != contract.as_of
    ]
    return F.to_json(F.struct(*[F.trim(F.col(c).cast("string")).alias(c) for c in names]))


# A copy without an export time is as of the batch's ingest, later than any export it arrives with.
_NO_EXPORT_TIME = "9999-12-31 23:59:59"


def _copy_order(df: DataFrame, contract: Contract) -> Column:
    """Which of a batch's copies of a customer is the latest: its export time (as_of_time), else the batch's."""
    if contract.as_of is None or contract.as_of not in df.columns:
        return F.lit(_NO_EXPORT_TIME).cast("timestamp")
    exported = F.try_to_timestamp(F.trim(F.col(contract.as_of).cast("string")))
    return F.coalesce(exported, F.lit(_NO_EXPORT_TIME).cast("timestamp"))


def _versions_at_latest(pairs: Column) -> Column:
    """`pairs`: the distinct (order, content) of a key's copies; how many contents its latest copies hold."""
    latest = F.array_max(F.transform(pairs, lambda p: p["order"]))
    return F.size(F.filter(pairs, lambda p: p["order"] == latest))


def key_copies(frames: list[DataFrame], contract: Contract) -> DataFrame:
    """The keys that occur more than once across `frames` (the files of one batch), with their count and the
    number of different versions among the latest copies (by export time: an older export's copy is superseded,
    not a conflict).

    Small (only repeated keys), so split_rows joins it to each file: a customer sent twice in one batch is
    caught whether both copies sit in one file or in two."""
    keys = [
        f.select(
            F.trim(F.col(contract.key).cast("string")).alias(KEY_TEXT_COLUMN),
            F.struct(
                _copy_order(f, contract).alias("order"), _row_content(f, contract).alias("content")
            ).alias("__copy"),
        )
        for f in frames
    ]
    union = keys[0]
    for other in keys[1:]:
        union = union.unionByName(other)
    return (
        union.where(f"NOT {_blank(_sql_name(KEY_TEXT_COLUMN))}")
        .groupBy(KEY_TEXT_COLUMN)
        .agg(
            F.count(F.lit(1)).alias(KEY_COPIES_COLUMN),
            _versions_at_latest(F.collect_set(F.col("__copy"))).alias(KEY_VERSIONS_COLUMN),
        )
        .where(F.col(KEY_COPIES_COLUMN) > 1)
    )


def split_rows(
    df: DataFrame, contract: Contract, *, require_label: bool, batch_key_copies: DataFrame | None = None
) -> RowSplit:
    """Split a structurally valid batch into typed valid rows and quarantined rows with their reasons.

    One row per customer per batch: every copy of a key whose copies in the batch differ is quarantined
    (which copy is right cannot be told from the batch); identical copies all stay valid here and the caller
    keeps one (`distinct_keys`). `batch_key_copies` (from `key_copies`) counts keys across all files of the
    batch; without it only `df` itself is counted.
    Columns that are not in the contract (ingest metadata such as `_batch_id`) are carried through to both.
    """
    # An optional column a file leaves out reads as blank, so the row checks that name it still resolve.
    for rule in contract.columns:
        if rule.optional and rule.name not in df.columns:
            df = df.withColumn(rule.name, F.lit(None).cast("string"))
    rules = [c for c in contract.columns if c.name in df.columns]
    if require_label and contract.label not in df.columns:
        raise ValueError("split_rows needs the label column; run check_structure first")
    passthrough = [c for c in df.columns if c not in contract.column_names and c != CORRUPT_RECORD_COLUMN]

    staged = df.select(
        *[F.expr(_trimmed_text(r.name)).alias(f"__text_{r.name}") for r in rules],
        *[F.expr(_typed(r, _trimmed_text(r.name))).alias(r.name) for r in rules],
        *[F.col(c) for c in passthrough],
        (
            F.col(CORRUPT_RECORD_COLUMN)
            if CORRUPT_RECORD_COLUMN in df.columns
            else F.lit(None).cast("string")
        ).alias(CORRUPT_RECORD_COLUMN),
        F.struct(_copy_order(df, contract).alias("order"), _row_content(df, contract).alias("content")).alias(
            "__copy"
        ),
    )

    reasons: list[Column] = [
        F.when(F.col(CORRUPT_RECORD_COLUMN).isNotNull(), F.lit("malformed line: wrong number of fields"))
    ]
    for rule in rules:
        reasons += [
            F.expr(r) for r in _value_reasons(rule, _sql_name(f"__text_{rule.name}"), _sql_name(rule.name))
        ]
    for check in contract.row_checks:
        # A check that cannot be evaluated (a value it reads is missing) is already reported as missing.
        reasons.append(F.when(~F.coalesce(F.expr(check.expr), F.lit(True)), F.lit(check.reason)))
    if contract.key in df.columns:
        if batch_key_copies is None:
            same_key = Window.partitionBy(F.col(f"__text_{contract.key}"))
            copies = F.count(F.lit(1)).over(same_key)
            versions = _versions_at_latest(F.collect_set(F.col("__copy")).over(same_key))
        else:
            staged = staged.join(
                F.broadcast(batch_key_copies),
                on=F.col(f"__text_{contract.key}") == F.col(KEY_TEXT_COLUMN),
                how="left",
            ).drop(KEY_TEXT_COLUMN)
            copies = F.coalesce(F.col(KEY_COPIES_COLUMN), F.lit(1))
            versions = F.coalesce(F.col(KEY_VERSIONS_COLUMN), F.lit(1))
        reasons.append(
            F.when(
                ~F.expr(_blank(_sql_name(f"__text_{contract.key}"))) & (versions > 1),
                F.concat(
                    F.lit(f"{contract.key}: appears "),
                    copies.cast("string"),
                    F.lit(" times in this batch with different values"),
                ),
            )
        )
    judged = staged.withColumn(
        QUARANTINE_REASON_COLUMN, F.concat_ws("; ", F.array_compact(F.array(*reasons)))
    )
    valid = judged.filter(F.col(QUARANTINE_REASON_COLUMN) == "").select(
        *[F.col(r.name) for r in rules], *[F.col(c) for c in passthrough]
    )
    # Quarantine rows keep every contract column (absent ones as null) so batches with and without the
    # label land in one table schema.
    present = {r.name for r in rules}
    quarantined = judged.filter(F.col(QUARANTINE_REASON_COLUMN) != "").select(
        *[
            (F.col(f"__text_{c}") if c in present else F.lit(None).cast("string")).alias(c)
            for c in contract.column_names
        ],
        *[F.col(c) for c in passthrough],
        F.col(CORRUPT_RECORD_COLUMN),
        F.col(QUARANTINE_REASON_COLUMN),
    )
    return RowSplit(valid=valid, quarantined=quarantined)


def as_of_time(df: DataFrame, contract: Contract, *, ingested_at: datetime) -> Column:
    """When a row was true at the source: its as-of column (split_rows quarantined unparseable values), else the
    batch's ingest time (arrival order). Capped at the ingest time: a row is not true at the source after it
    reached us, and an export time in the future (a zone-less local time east of UTC, a clock ahead) would
    otherwise keep every later batch from replacing the row until then."""
    fallback = F.lit(ingested_at).cast("timestamp")
    if contract.as_of is None or contract.as_of not in df.columns:
        return fallback
    return F.least(F.coalesce(F.try_to_timestamp(F.col(contract.as_of)), fallback), fallback)


def distinct_keys(valid: DataFrame, contract: Contract) -> DataFrame:
    """One row per key of a batch's valid rows: its latest copy by export time. split_rows leaves only keys whose
    latest copies are identical in every contract value, so which of those is kept changes nothing but the
    ingest metadata."""
    if contract.key not in valid.columns:
        return valid
    latest_first = Window.partitionBy(contract.key).orderBy(_copy_order(valid, contract).desc())
    return valid.withColumn("__rank", F.row_number().over(latest_first)).where("__rank = 1").drop("__rank")
