"""The committed raw file keeps the public IBM layout that downstream code and the contract expect."""

from churn.contract import Contract

IBM_COLUMNS = [
    "customerID", "gender", "SeniorCitizen", "Partner", "Dependents", "tenure", "PhoneService",
    "MultipleLines", "InternetService", "OnlineSecurity", "OnlineBackup", "DeviceProtection", "TechSupport",
    "StreamingTV", "StreamingMovies", "Contract", "PaperlessBilling", "PaymentMethod", "MonthlyCharges",
    "TotalCharges", "Churn",
]  # fmt: skip


def test_raw_file_has_the_ibm_columns_in_order(telco_raw):
    assert list(telco_raw.columns) == IBM_COLUMNS
    contract = Contract.load()
    # The contract adds only optional columns (the export time, issue 23); the required ones are IBM's, in order.
    assert [c for c in contract.column_names if c in IBM_COLUMNS] == IBM_COLUMNS
    extra = [c for c in contract.columns if c.name not in IBM_COLUMNS]
    assert [c.name for c in extra] == ["ExportedAt"] and all(c.optional for c in extra)


def test_raw_file_has_all_customers_with_unique_ids(telco_raw):
    assert len(telco_raw) == 7043
    assert telco_raw["customerID"].is_unique
    assert telco_raw["customerID"].str.fullmatch(r"\d{4}-[A-Z]{5}").all()


def test_raw_file_keeps_ibm_spellings(telco_raw):
    assert round((telco_raw["Churn"] == "Yes").mean(), 3) == 0.265
    assert set(telco_raw["gender"]) == {"Female", "Male"}
    assert set(telco_raw["SeniorCitizen"]) == {"0", "1"}
    blank_total = telco_raw["TotalCharges"] == " "
    assert blank_total.sum() == 11
    assert (telco_raw.loc[blank_total, "tenure"] == "0").all()
