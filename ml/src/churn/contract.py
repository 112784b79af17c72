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


def _blank(text: Column) -> Column:
    return text.isNull() | (F.trim(text) == "")


def _parses(rule: ColumnRule, text: Column) -> Column:
    # try_cast: Spark 4 runs in ANSI mode, where `cast` of bad text raises and `&` does not short-circuit.
    if rule.type == "integer":
        return text.rlike(_INTEGER_TEXT) & text.try_cast("long").between(-(2**31), 2**31 - 1)
    if rule.type == "double":
        return text.rlike(_DECIMAL_TEXT)
    return F.lit(True)


def _typed(rule: ColumnRule, text: Column) -> Column:
    parsed = F.when(~_blank(text) & _parses(rule, text), text)
    return parsed.try_cast(_SPARK_TYPE_PRODUCED[rule.type])


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
    aggregates = [F.count(F.lit(1)).alias("rows")]
    required = [r for r in contract.columns if not r.nullable and r.name in present]
    aggregates += [
        F.sum(F.when(~_blank(F.col(r.name).cast("string")), 1).otherwise(0)).alias(f"required_{i}")
        for i, r in enumerate(required)
    ]
    for i, rule in enumerate(text_rules):
        text = F.trim(F.col(rule.name))
        unparseable = ~_blank(text) & ~_parses(rule, text)
        aggregates += [
            F.sum(F.when(~_blank(text), 1).otherwise(0)).alias(f"filled_{i}"),
            F.sum(F.when(unparseable, 1).otherwise(0)).alias(f"bad_{i}"),
            F.first(F.when(unparseable, text), ignorenulls=True).alias(f"example_{i}"),
        ]
    stats = df.agg(*aggregates).first()
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


def _value_reasons(rule: ColumnRule, text: Column, typed: Column) -> list[Column]:
    shown = F.concat(F.lit("'"), text, F.lit("'"))
    reasons: list[Column] = []
    if not rule.nullable:
        reasons.append(F.when(_blank(text), F.lit(f"{rule.name}: missing")))
    if rule.type != "string":
        reasons.append(
            F.when(~_blank(text) & typed.isNull(), F.concat(F.lit(f"{rule.name}: not {rule.type}: "), shown))
        )
    if rule.allowed is not None:
        allowed = ", ".join(rule.allowed)
        reasons.append(
            F.when(
                ~_blank(text) & ~text.isin(list(rule.allowed)),
                F.concat(F.lit(f"{rule.name}: "), shown, F.lit(f" is not one of {allowed}")),
            )
        )
    if rule.pattern is not None:
        reasons.append(
            F.when(
                ~_blank(text) & ~text.rlike(rule.pattern),
                F.concat(F.lit(f"{rule.name}: "), shown, F.lit(f" does not match {rule.pattern}")),
            )
        )
    if rule.min is not None or rule.max is not None:
        low = rule.min if rule.min is not None else float("-inf")
        high = rule.max if rule.max is not None else float("inf")
        reasons.append(
            F.when(
                typed.isNotNull() & ~typed.between(low, high),
                F.concat(F.lit(f"{rule.name}: "), text, F.lit(f" outside [{low:g}, {high:g}]")),
            )
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
        union.where(~_blank(F.col(KEY_TEXT_COLUMN)))
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

    text = {r.name: F.trim(F.col(r.name).cast("string")) for r in rules}
    typed = {r.name: _typed(r, text[r.name]) for r in rules}
    staged = df.select(
        *[text[r.name].alias(f"__text_{r.name}") for r in rules],
        *[typed[r.name].alias(r.name) for r in rules],
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
        reasons += _value_reasons(rule, F.col(f"__text_{rule.name}"), F.col(rule.name))
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
                ~_blank(F.col(f"__text_{contract.key}")) & (versions > 1),
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
