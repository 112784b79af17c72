"""Shared fixtures for the churn package: one local Spark session for the whole run, the committed Telco
file, and helpers that write raw CSV batches the way a source system would."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

# The local JVM's class data sharing archive (churn.jvm_cds) lives in the user's cache: tests neither write it nor
# wait for its dump at exit (tests/ml/test_jvm_cds.py turns it back on, with a cache of its own).
os.environ.setdefault("CHURN_JVM_CDS", "0")

TELCO_CSV = Path(__file__).resolve().parents[2] / "ml" / "data" / "WA_Fn-UseC_-Telco-Customer-Churn.csv.gz"


@pytest.fixture(scope="session")
def spark():
    from churn.spark_session import local_spark

    session = local_spark("churn-tests", cores=2)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def telco_csv() -> Path:
    """The committed raw file, gzip CSV in the IBM layout."""
    return TELCO_CSV


@pytest.fixture(scope="session")
def telco_raw() -> pd.DataFrame:
    """The raw file exactly as text (blanks kept), one row per customer."""
    return pd.read_csv(TELCO_CSV, dtype=str, keep_default_na=False)


def write_raw_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def telco_sample(telco_raw: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stratified 1,200-row sample: enough for 2-fold CV, small enough to keep the suite fast."""
    sample = telco_raw.groupby("Churn", group_keys=False).sample(frac=1200 / len(telco_raw), random_state=7)
    return write_raw_csv(sample, tmp_path_factory.mktemp("raw") / "telco_sample.csv")
