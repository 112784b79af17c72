"""Feature functions on hand-made rows: typed silver, the engineered columns, and row-wise independence."""

from datetime import UTC, datetime

import pytest
from churn.contract import Contract, split_rows
from churn.features import FEATURE_COLUMNS, KEY, build_features, labels, to_bronze, to_silver, training_frame

BASE = {
    "customerID": "0001-AAAAA",
    "gender": "Female",
    "SeniorCitizen": "0",
    "Partner": "Yes",
    "Dependents": "No",
    "tenure": "10",
    "PhoneService": "Yes",
    "MultipleLines": "No",
    "InternetService": "Fiber optic",
    "OnlineSecurity": "Yes",
    "OnlineBackup": "No",
    "DeviceProtection": "Yes",
    "TechSupport": "No",
    "StreamingTV": "Yes",
    "StreamingMovies": "No",
    "Contract": "Month-to-month",
    "PaperlessBilling": "Yes",
    "PaymentMethod": "Credit card (automatic)",
    "MonthlyCharges": "80.0",
    "TotalCharges": "700.0",
    "Churn": "Yes",
}


def silver_of(spark, rows):
    raw = spark.createDataFrame([{**BASE, **row} for row in rows])
    bronze = to_bronze(raw, source="test", batch_id="b", ingested_at=datetime(2024, 1, 1, tzinfo=UTC))
    split = split_rows(bronze, Contract.load(), require_label=True)
    return to_silver(split.valid)


def features_by_key(spark, rows):
    return {r[KEY]: r.asDict() for r in build_features(silver_of(spark, rows)).collect()}


def test_silver_types_yes_no_and_flags_as_booleans(spark):
    row = silver_of(spark, [{}]).first()
    assert row["Partner"] is True and row["Dependents"] is False
    assert row["SeniorCitizen"] is False and row["Churn"] is True
    assert row["tenure"] == 10 and row["TotalCharges"] == pytest.approx(700.0)
    assert row["_batch_id"] == "b"


def test_features_keyed_by_customer_with_model_inputs(spark):
    features = build_features(silver_of(spark, [{}]))
    assert features.columns == [KEY, *FEATURE_COLUMNS]


def test_engineered_charges_and_counts(spark):
    f = features_by_key(spark, [{}])["0001-AAAAA"]
    assert f["avg_monthly_charges"] == pytest.approx(70.0)
    assert f["charges_trend"] == pytest.approx(10.0)
    assert f["add_on_count"] == 3  # security, device protection, TV
    assert f["auto_payment"] == 1
    assert f["has_partner"] == 1 and f["has_dependents"] == 0
    assert f["contract"] == "Month-to-month"


def test_new_customer_without_total_charges_gets_zero_total_and_current_monthly(spark):
    f = features_by_key(spark, [{"tenure": "0", "TotalCharges": " "}])["0001-AAAAA"]
    assert f["total_charges"] == 0.0
    assert f["avg_monthly_charges"] == pytest.approx(80.0)
    assert f["charges_trend"] == 0.0
    assert f["log_tenure"] == 0.0


def test_customer_without_internet_has_no_add_ons(spark):
    no_internet = {c: "No internet service" for c in
                   ["OnlineSecurity", "OnlineBackup", "DeviceProtection", "TechSupport", "StreamingTV", "StreamingMovies"]}  # fmt: skip
    f = features_by_key(spark, [{**no_internet, "InternetService": "No", "PaymentMethod": "Mailed check"}])
    assert f["0001-AAAAA"]["add_on_count"] == 0
    assert f["0001-AAAAA"]["auto_payment"] == 0


def test_features_of_a_row_do_not_depend_on_the_rest_of_the_batch(spark):
    rows = [
        {"customerID": f"000{i}-AAAAA", "tenure": str(i * 7), "TotalCharges": str(i * 7 * 75.5)}
        for i in range(1, 6)
    ]
    together = features_by_key(spark, rows)
    alone = features_by_key(spark, rows[2:3])
    assert alone["0003-AAAAA"] == together["0003-AAAAA"]


def test_training_frame_joins_labels_and_drops_unlabelled(spark):
    silver = silver_of(
        spark, [{"customerID": "0001-AAAAA", "Churn": "Yes"}, {"customerID": "0002-BBBBB", "Churn": "No"}]
    )
    features = build_features(silver)
    frame = training_frame(features, labels(silver.filter("customerID = '0001-AAAAA'"))).collect()
    assert [(r[KEY], r["churn"]) for r in frame] == [("0001-AAAAA", 1)]
