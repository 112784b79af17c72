"""Pure PySpark transforms: raw batch -> bronze -> silver -> features. No I/O here, so the same functions run
on a laptop and on Databricks, and tests call them on small frames."""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

KEY = "customerID"
LABEL = "churn"
# When a customer's row was true at the source (contract.as_of_time): silver and features keep it, and an upsert
# replaces a stored row only with one at least as recent.
AS_OF = "_as_of"

YES_NO_COLUMNS = ["Partner", "Dependents", "PhoneService", "PaperlessBilling"]
ADD_ON_SERVICES = [
    "OnlineSecurity",
    "OnlineBackup",
    "DeviceProtection",
    "TechSupport",
    "StreamingTV",
    "StreamingMovies",
]

# Model inputs, by kind: the scikit-learn pipeline selects these lists explicitly.
NUMERIC_FEATURES = [
    "senior_citizen",
    "has_partner",
    "has_dependents",
    "has_phone_service",
    "paperless_billing",
    "tenure_months",
    "log_tenure",
    "monthly_charges",
    "total_charges",
    "avg_monthly_charges",
    "charges_trend",
    "add_on_count",
    "auto_payment",
]
CATEGORICAL_FEATURES = [
    "contract",
    "internet_service",
    "payment_method",
    "multiple_lines",
    "online_security",
    "online_backup",
    "device_protection",
    "tech_support",
    "streaming_tv",
    "streaming_movies",
]
FEATURE_COLUMNS = NUMERIC_FEATURES + CATEGORICAL_FEATURES

# silver column -> name in fairness reports: protected or family-status attributes of a customer. Fairness is
# measured over them; gender is not a model input at all.
SENSITIVE_ATTRIBUTES = {
    "gender": "gender",
    "SeniorCitizen": "senior_citizen",
    "Partner": "partner",
    "Dependents": "dependents",
}
SENSITIVE_PREFIX = "sensitive_"


def to_bronze(raw: DataFrame, *, source: str, batch_id: str, ingested_at: datetime) -> DataFrame:
    """The batch as landed (text), plus where and when it came from."""
    return raw.select(
        *[F.col(c).cast("string") for c in raw.columns],
        F.lit(source).alias("_source"),
        F.lit(batch_id).alias("_batch_id"),
        F.lit(ingested_at).cast("timestamp").alias("_ingested_at"),
    )


def to_silver(valid: DataFrame) -> DataFrame:
    """Contract-valid rows in typed, analysis-ready form: Yes/No as booleans, 0/1 flags as booleans.

    TotalCharges stays null where the source left it blank (customers in their first month): silver records
    what was known; the feature step decides how to fill it.
    """
    columns: list[Column] = [F.col(KEY)]
    columns.append(F.col("gender"))
    columns.append((F.col("SeniorCitizen") == 1).alias("SeniorCitizen"))
    columns += [(F.col(c) == "Yes").alias(c) for c in YES_NO_COLUMNS]
    columns += [
        F.col(c)
        for c in [
            "tenure",
            "MultipleLines",
            "InternetService",
            *ADD_ON_SERVICES,
            "Contract",
            "PaymentMethod",
            "MonthlyCharges",
            "TotalCharges",
        ]
    ]
    if "Churn" in valid.columns:
        columns.append((F.col("Churn") == "Yes").alias("Churn"))
    metadata = [c for c in valid.columns if c.startswith("_")]
    return valid.select(*columns, *[F.col(c) for c in metadata])


def _flag(condition: Column) -> Column:
    return condition.cast("int")


def build_features(silver: DataFrame) -> DataFrame:
    """One row per customer, keyed by customerID, with the model inputs.

    Row-wise only (no statistics over the batch), so features of a scoring batch are computed exactly as in
    training and there is nothing to leak from the hold-out. `gender` is left out on purpose: it is a
    sensitive attribute with no signal in this data; fairness checks read it from silver. The row's as-of time
    (`_as_of`) is carried when silver has it, for the upsert rule; it is no model input.
    """
    tenure = F.col("tenure")
    monthly = F.col("MonthlyCharges")
    # Blank TotalCharges only occurs at tenure 0 (the contract enforces it): nothing has been billed yet.
    total = F.coalesce(F.col("TotalCharges"), F.lit(0.0))
    avg_monthly = F.when(tenure > 0, total / tenure).otherwise(monthly)
    add_ons = sum((_flag(F.col(c) == "Yes") for c in ADD_ON_SERVICES), F.lit(0))
    return silver.select(
        F.col(KEY),
        _flag(F.col("SeniorCitizen")).alias("senior_citizen"),
        _flag(F.col("Partner")).alias("has_partner"),
        _flag(F.col("Dependents")).alias("has_dependents"),
        _flag(F.col("PhoneService")).alias("has_phone_service"),
        _flag(F.col("PaperlessBilling")).alias("paperless_billing"),
        tenure.cast("int").alias("tenure_months"),
        F.log1p(tenure.cast("double")).alias("log_tenure"),
        monthly.cast("double").alias("monthly_charges"),
        total.cast("double").alias("total_charges"),
        avg_monthly.cast("double").alias("avg_monthly_charges"),
        (monthly - avg_monthly).cast("double").alias("charges_trend"),
        add_ons.cast("int").alias("add_on_count"),
        _flag(F.col("PaymentMethod").contains("(automatic)")).alias("auto_payment"),
        F.col("Contract").alias("contract"),
        F.col("InternetService").alias("internet_service"),
        F.col("PaymentMethod").alias("payment_method"),
        F.col("MultipleLines").alias("multiple_lines"),
        F.col("OnlineSecurity").alias("online_security"),
        F.col("OnlineBackup").alias("online_backup"),
        F.col("DeviceProtection").alias("device_protection"),
        F.col("TechSupport").alias("tech_support"),
        F.col("StreamingTV").alias("streaming_tv"),
        F.col("StreamingMovies").alias("streaming_movies"),
        *([F.col(AS_OF)] if AS_OF in silver.columns else []),
    )


def labels(silver: DataFrame) -> DataFrame:
    """customerID -> churn as 0/1, the training target; customers landed without a label (to be scored) have
    none and are left out."""
    return silver.where(F.col("Churn").isNotNull()).select(
        F.col(KEY), F.col("Churn").cast("int").alias(LABEL)
    )


def sensitive_attributes(silver: DataFrame) -> DataFrame:
    """customerID -> the attributes fairness is measured over, as readable text (gender, Yes/No flags)."""
    columns = [F.col(KEY)]
    for source, name in SENSITIVE_ATTRIBUTES.items():
        value = F.col(source)
        if source != "gender":
            value = F.when(value, F.lit("Yes")).otherwise(F.lit("No"))
        # Prefixed: `senior_citizen` is also a model input, with another type.
        columns.append(value.alias(f"{SENSITIVE_PREFIX}{name}"))
    return silver.select(*columns)


def training_frame(features: DataFrame, label_frame: DataFrame) -> DataFrame:
    """Features joined to labels on the key; customers without a label are not trainable."""
    return features.join(label_frame, on=KEY, how="inner").select(KEY, *FEATURE_COLUMNS, LABEL)
