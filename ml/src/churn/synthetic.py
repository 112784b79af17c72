"""Synthetic customers in the raw Telco layout, drawn in Spark from the marginals of a real batch.

For load tests and benchmarks at sizes the real data does not have. Each column follows its marginal
distribution in the reference batch; the structural rules of the contract are kept (phone lines only with
phone service, add-ons only with internet, TotalCharges ~ tenure x MonthlyCharges and blank at tenure 0), so
synthetic rows pass the contract like real ones. Correlations beyond those rules are not reproduced.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from churn.features import ADD_ON_SERVICES

_PLAIN_CATEGORICALS = [
    "gender", "SeniorCitizen", "Partner", "Dependents", "PhoneService", "InternetService", "Contract",
    "PaperlessBilling", "PaymentMethod", "Churn", "tenure",
]  # fmt: skip
_QUANTILES = 100


@dataclass(frozen=True)
class Marginals:
    """Value frequencies per categorical column, and quantiles of MonthlyCharges."""

    frequencies: dict[str, dict[str, float]]
    monthly_charge_quantiles: list[float]

    @classmethod
    def of(cls, raw: pd.DataFrame) -> Marginals:
        """From a raw batch held as text (the reference is small; the synthetic data is not)."""
        frequencies = {c: raw[c].value_counts(normalize=True).to_dict() for c in _PLAIN_CATEGORICALS}
        with_phone = raw[raw["PhoneService"] == "Yes"]
        frequencies["MultipleLines"] = with_phone["MultipleLines"].value_counts(normalize=True).to_dict()
        with_internet = raw[raw["InternetService"] != "No"]
        for service in ADD_ON_SERVICES:
            frequencies[service] = with_internet[service].value_counts(normalize=True).to_dict()
        charges = raw["MonthlyCharges"].astype(float)
        quantiles = [float(charges.quantile(i / _QUANTILES)) for i in range(_QUANTILES + 1)]
        return cls(frequencies=frequencies, monthly_charge_quantiles=quantiles)


def _draw(frequencies: dict[str, float], uniform: Column) -> Column:
    """Inverse-CDF draw of a categorical value from a uniform(0, 1) column."""
    values = sorted(frequencies.items())
    cumulative = 0.0
    choice = None
    for value, probability in values[:-1]:
        cumulative += probability
        choice = (F.when(uniform < cumulative, F.lit(value)) if choice is None else choice.when(uniform < cumulative, F.lit(value)))  # fmt: skip
    last = F.lit(values[-1][0])
    return last if choice is None else choice.otherwise(last)


def _interpolated(quantiles: list[float], uniform: Column) -> Column:
    """Piecewise-linear inverse CDF through the stored quantiles."""
    steps = len(quantiles) - 1
    position = uniform * steps
    index = F.floor(position).cast("int")
    table = F.array(*[F.lit(q) for q in quantiles])
    low = F.element_at(table, index + 1)
    high = F.element_at(table, F.least(index + 2, F.lit(len(quantiles))))
    return low + (position - index) * (high - low)


def _customer_id(row: Column) -> Column:
    """Unique IDs in the IBM shape dddd-LLLLL for up to 10,000 x 26^5 rows."""
    letters = [
        F.substring(
            F.lit("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), (F.floor(row / (10_000 * 26**i)) % 26 + 1).cast("int"), 1
        )
        for i in range(5)
    ]
    return F.concat(F.lpad((row % 10_000).cast("string"), 4, "0"), F.lit("-"), *letters)


def synthetic_raw(spark: SparkSession, marginals: Marginals, rows: int, *, seed: int = 0) -> DataFrame:
    """`rows` synthetic customers as text columns, in the raw layout and column order."""
    names = [*_PLAIN_CATEGORICALS, "MultipleLines", *ADD_ON_SERVICES, "MonthlyCharges", "billing_noise"]
    # Draw each uniform once into a column: a rand() referenced in several CASE branches would be
    # re-evaluated branch by branch and skew the distribution.
    draws = spark.range(rows).select(
        F.col("id"), *[F.rand(seed * 1000 + i).alias(f"_u_{name}") for i, name in enumerate(names)]
    )
    uniform = {name: F.col(f"_u_{name}") for name in names}
    base = draws.select(
        _customer_id(F.col("id")).alias("customerID"),
        *[_draw(marginals.frequencies[c], uniform[c]).alias(c) for c in _PLAIN_CATEGORICALS],
        _draw(marginals.frequencies["MultipleLines"], uniform["MultipleLines"]).alias("_lines"),
        *[_draw(marginals.frequencies[s], uniform[s]).alias(f"_{s}") for s in ADD_ON_SERVICES],
        F.round(_interpolated(marginals.monthly_charge_quantiles, uniform["MonthlyCharges"]), 2).alias(
            "_monthly"
        ),
        (0.9 + 0.2 * uniform["billing_noise"]).alias("_noise"),
    )
    tenure = F.col("tenure").cast("int")
    total = F.round(F.col("_monthly") * tenure * F.col("_noise"), 2)
    return base.select(
        "customerID", "gender", "SeniorCitizen", "Partner", "Dependents", "tenure", "PhoneService",
        F.when(F.col("PhoneService") == "No", F.lit("No phone service")).otherwise(F.col("_lines")).alias("MultipleLines"),
        "InternetService",
        *[F.when(F.col("InternetService") == "No", F.lit("No internet service")).otherwise(F.col(f"_{s}")).alias(s)
          for s in ADD_ON_SERVICES],
        "Contract", "PaperlessBilling", "PaymentMethod",
        F.col("_monthly").cast("string").alias("MonthlyCharges"),
        F.when(tenure == 0, F.lit(" ")).otherwise(total.cast("string")).alias("TotalCharges"),
        "Churn",
    )  # fmt: skip
