"""An empty MLflow SQLite store whose schema is migrated while the local JVM starts.

MLflow migrates a new SQLite store on its first use: some fifty Alembic scripts, most of a second of Python in the
middle of training. A local run that will use MLflow on a work directory without a store migrates one in a
temporary folder while its JVM boots (Python only waits then), keeps it in memory, and the first use writes it
into place. A run that never uses MLflow (a refused batch) leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

# The migrated store, kept in memory: a run stopped by a signal (atexit does not run then) leaves no folder behind.
_prepared: dict[str, bytes] = {}
# MLflow's default artifact root, which it creates in the current directory with every SQLite store it opens.
_DEFAULT_ARTIFACT_ROOT = "mlruns"
# A staged copy older than this is from a run killed while installing.
_STALE_SECONDS = 600


def prepare(database: Path) -> None:
    """Migrate an empty store, unless `database` (a work directory's store) exists or one is prepared already.
    An optimisation only: if it fails, MLflow migrates the store on first use as before."""
    if database.exists() or database.is_symlink() or "store" in _prepared:
        return
    made_root = not os.path.lexists(_DEFAULT_ARTIFACT_ROOT)
    folder = tempfile.mkdtemp(prefix="churn-mlflow-store-")
    try:
        store = Path(folder) / database.name
        # Creating the client creates the store: tables, migrations, the default experiment.
        MlflowClient(tracking_uri=f"sqlite:///{store}", registry_uri=f"sqlite:///{store}")
        _prepared["store"] = store.read_bytes()
    except Exception:  # MLflow's first use does it again and reports what is wrong
        return
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if made_root:
            # Written by MLflow's first use anyway; until then a refused run leaves nothing in the current folder.
            with contextlib.suppress(OSError):
                os.rmdir(_DEFAULT_ARTIFACT_ROOT)


def install(database: Path) -> bool:
    """Put the prepared store at `database` if nothing is there yet; of two runs at once the first wins and the
    other uses its store. True if it was put in place."""
    store = _prepared.get("store")
    if store is None or os.path.lexists(database):
        return False
    _remove_stale_copies(database)
    handle, staged = tempfile.mkstemp(dir=database.parent, prefix=f".{database.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(store)
            out.flush()
            os.fsync(out.fileno())
        os.link(staged, database)  # atomic, and refuses to replace a store another run put there
        return True
    except OSError:
        return False
    finally:
        with contextlib.suppress(OSError):
            os.unlink(staged)


def _remove_stale_copies(database: Path) -> None:
    """Staged copies of runs killed between copying and linking (a live run's copy is seconds old)."""
    now = time.time()
    for path in database.parent.glob(f".{database.name}.*.tmp"):
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime > _STALE_SECONDS:
                path.unlink()
