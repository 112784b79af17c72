# Databricks notebook source
# MAGIC %md
# MAGIC # Churn: explore and run the pipeline step by step
# MAGIC
# MAGIC The same code as the scheduled jobs (the `churn` wheel): contract check, bronze -> silver -> features in
# MAGIC Unity Catalog, model comparison and registration in MLflow, batch scoring with the `champion`.
# MAGIC Set the widgets above, then run the cells in order. Nothing here is notebook-only logic, so what works
# MAGIC here works in the jobs.

# COMMAND ----------

dbutils.widgets.text("catalog", "", "Catalog")
dbutils.widgets.text("schema", "ml", "Schema")
dbutils.widgets.text("model_name", "churn", "Model name (or catalog.schema.name)")
dbutils.widgets.text("experiment_path", "", "Experiment path (e.g. /Teams/<team>/<env>/churn)")
dbutils.widgets.text("raw_input", "", "Raw CSV file or folder (e.g. abfss://landing@.../telco/)")
dbutils.widgets.text("seed", "42", "Seed")
dbutils.widgets.text("cv_folds", "5", "CV folds")

# COMMAND ----------

# MAGIC %md
# MAGIC ## Install the wheel the jobs run
# MAGIC The workspace stack uploads it to `/Volumes/<catalog>/ml/artifacts/wheels/<hash>/`; the newest one is used.

# COMMAND ----------

import glob
import os
import subprocess
import sys

wheel_folder = f"/Volumes/{dbutils.widgets.get('catalog')}/ml/artifacts/wheels"
wheels = sorted(glob.glob(f"{wheel_folder}/*/churn-*.whl"), key=os.path.getmtime)
if not wheels:
    raise ValueError(f"no churn wheel under {wheel_folder}; deploy the workspace stack first")
subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", wheels[-1]])
dbutils.library.restartPython()

# COMMAND ----------

from churn.contract import Contract
from churn.jobs.ingest import contracted_batch, run_ingest
from churn.jobs.score import run_score
from churn.jobs.monitor import run_monitor
from churn.jobs.train import TrainSettings, run_train
from churn.jobs.validate import run_validate
from churn.runtime import FEATURES, PREDICTIONS, QUARANTINE, unity_catalog_runtime

runtime = unity_catalog_runtime(
    dbutils.widgets.get("catalog"),
    dbutils.widgets.get("schema"),
    model_name=dbutils.widgets.get("model_name"),
    experiment_path=dbutils.widgets.get("experiment_path") or None,
)
raw_input = dbutils.widgets.get("raw_input")
print(f"tables in {runtime.store.catalog}.{runtime.store.schema}, model {runtime.model_name}")

# COMMAND ----------

# MAGIC %md
# MAGIC ## Look at the raw batch through the data contract (writes nothing)

# COMMAND ----------

batch = contracted_batch(spark, raw_input, Contract.load(), require_label=True)
display(batch.quarantined)

# COMMAND ----------

display(
    batch.silver.groupBy("Contract", "InternetService")
    .agg({"Churn": "avg", "customerID": "count"})
    .orderBy("Contract", "InternetService")
)

# COMMAND ----------

# MAGIC %md
# MAGIC ## Ingest: bronze, quarantine, silver, features

# COMMAND ----------

ingested = run_ingest(runtime, raw_input, report=print)
print(ingested)
display(runtime.store.read(FEATURES).limit(20))

# COMMAND ----------

if runtime.store.exists(QUARANTINE):
    display(runtime.store.read(QUARANTINE).orderBy("_ingested_at", ascending=False).limit(50))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Train, evaluate, register (the new version becomes `challenger`)

# COMMAND ----------

settings = TrainSettings(seed=int(dbutils.widgets.get("seed")), cv_folds=int(dbutils.widgets.get("cv_folds")))
trained = run_train(runtime, settings, report=print)
display(spark.createDataFrame([(k, float(v)) for k, v in trained.metrics.items()], "metric string, value double"))
print(f"registered {trained.model_name} version {trained.model_version} as {trained.aliases}; run {trained.run_id}")

# COMMAND ----------

# MAGIC %md
# MAGIC ## Validation gate: challenger vs champion on the same hold-out (dry-run here: reports, never replaces
# MAGIC the champion; the first version is installed because there is nothing to protect)

# COMMAND ----------

validated = run_validate(runtime, mode="dry-run", report=print)
print(validated.decision.message)
display(spark.createDataFrame([(c.name, c.passed, c.observed, c.limit) for c in validated.decision.checks],
                              "check string, passed boolean, observed double, limit double"))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Score every customer with the `champion`

# COMMAND ----------

scored = run_score(runtime, report=print)
display(runtime.store.read(PREDICTIONS).filter(f"batch_id = '{scored.batch_id}'").orderBy("churn_probability", ascending=False).limit(50))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Drift: the champion's training features against the batch just scored

# COMMAND ----------

monitored = run_monitor(runtime, reference=None, current=None, report=print)
print(f"drift detected: {monitored.report.drift_detected} {monitored.report.drifted_features}")
