"""Synthetic customers keep the reference marginals and pass the contract like real ones."""

from __future__ import annotations

import pytest
from churn.contract import Contract, check_structure, split_rows
from churn.synthetic import Marginals, synthetic_raw
from pyspark.sql import functions as F


@pytest.fixture(scope="module")
def synthetic(spark, telco_raw):
    return synthetic_raw(spark, Marginals.of(telco_raw), 20_000, seed=1).cache()


def test_synthetic_rows_pass_the_contract(synthetic):
    contract = Contract.load()
    check_structure(synthetic, contract, source="synthetic", require_label=True)
    split = split_rows(synthetic, contract, require_label=True)
    assert split.quarantined.count() == 0
    assert split.valid.count() == 20_000


def test_synthetic_marginals_match_the_reference(synthetic, telco_raw):
    for column in ["Contract", "InternetService", "Churn"]:
        expected = telco_raw[column].value_counts(normalize=True)
        observed = {r[column]: r["count"] / 20_000 for r in synthetic.groupBy(column).count().collect()}
        for value, share in expected.items():
            assert observed[value] == pytest.approx(share, abs=0.02), (column, value)
    monthly = synthetic.select(F.percentile_approx(F.col("MonthlyCharges").cast("double"), 0.5)).first()[0]
    assert monthly == pytest.approx(telco_raw["MonthlyCharges"].astype(float).median(), rel=0.05)


def test_synthetic_customer_ids_are_unique(synthetic):
    assert synthetic.select("customerID").distinct().count() == 20_000
