"""An empty MLflow SQLite store whose schema is migrated while the local JVM starts.

MLflow migrates a new SQLite store on its first use: some fifty Alembic scripts, most of a second of Python in the
middle of training. A local run that will use MLflow on a work directory without a store migrates one in a
temporary folder while its JVM boots (Python only waits then), and the first use copies it into place. A run
that never uses MLflow (a refused batch) leaves nothing in the work directory; the temporary folder goes at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from mlflow.tracking import MlflowClient

_prepared: dict[str, Path] = {}


def prepare(database: Path) -> None:
    """Migrate an empty store, unless `database` (a work directory's store) exists or one is prepared already.
    An optimisation only: if it fails, MLflow migrates the store on first use as before."""
    if database.exists() or "store" in _prepared:
        return
    folder = Path(tempfile.mkdtemp(prefix="churn-mlflow-store-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    store = folder / database.name
    try:
        # Creating the client creates the store: tables, migrations, the default experiment.
        MlflowClient(tracking_uri=f"sqlite:///{store}", registry_uri=f"sqlite:///{store}")
    except Exception:  # MLflow's first use does it again and reports what is wrong
        return
    _prepared["store"] = store


def install(database: Path) -> bool:
    """Put the prepared store at `database` if nothing is there yet; of two runs at once the first wins and the
    other uses its store. True if it was put in place."""
    store = _prepared.get("store")
    if store is None or database.exists():
        return False
    staged = database.with_name(f".{database.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(store, staged)
        os.link(staged, database)  # atomic, and refuses to replace a store another run put there
        return True
    except OSError:
        return False
    finally:
        with contextlib.suppress(OSError):
            staged.unlink()
