"""Small batches: one customer in distribution raises no drift alarm, whichever customer it is (the chi-squared
test falls back to a Monte Carlo p-value when its expected counts are too small); a real shift still does."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from churn.drift import drift_report


@pytest.fixture(scope="module")
def reference(telco_raw) -> pd.DataFrame:
    frame = telco_raw.drop(columns=["customerID", "Churn"]).copy()
    for column in ("tenure", "MonthlyCharges", "SeniorCitizen"):
        frame[column] = pd.to_numeric(frame[column])
    frame["TotalCharges"] = pd.to_numeric(frame["TotalCharges"].str.strip().replace("", np.nan))
    return frame


def test_no_single_customer_of_the_telco_file_raises_an_alarm(reference):
    features = list(reference.columns)
    # every customer new this month (blank TotalCharges: 11 of 7,043) plus a spread of the others
    rows = [*np.flatnonzero(reference["TotalCharges"].isna()), *range(0, len(reference), 97)]
    alarms = [i for i in rows if drift_report(reference, reference.iloc[[i]], features).drift_detected]
    assert alarms == []


def test_a_new_customer_alone_is_not_a_broken_total_charges_column(reference):
    newcomer = reference[reference["TotalCharges"].isna()].iloc[[0]]
    report = drift_report(reference, newcomer, list(reference.columns))
    total = next(f for f in report.features if f.name == "TotalCharges")
    assert not total.drifted and total.p_value > 1e-3


@pytest.mark.parametrize("rows", [40, 200])
def test_a_real_shift_in_a_small_batch_is_still_flagged(reference, rows):
    batch = reference.sample(n=rows, random_state=3).reset_index(drop=True)
    batch["TotalCharges"] = np.nan  # the feed lost the column
    batch["tenure"] = batch["tenure"] + 36
    report = drift_report(reference, batch, list(reference.columns))
    assert {"TotalCharges", "tenure"} <= set(report.drifted_features)


def test_the_small_sample_test_on_a_wide_categorical_column_stays_small_in_memory_and_reproducible():
    # A categorical column with 2,000 values (a free-text field, a product code) and a 3-row batch takes the
    # Monte Carlo path; drawing all 20,000 tables at once held several 320 MB arrays.
    import tracemalloc

    from churn.drift import _chi_squared

    reference = np.random.default_rng(1).integers(1, 100, size=2000)
    current = np.zeros(2000)
    current[:3] = 1
    tracemalloc.start()
    try:
        first = _chi_squared(reference, current)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100 * 2**20
    assert first == _chi_squared(reference, current)  # seeded: the same batch, the same verdict
    assert 0.2 < first[1] < 0.6  # three customers spread over common values: no evidence of drift
