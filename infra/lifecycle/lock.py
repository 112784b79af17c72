"""One command at a time per cdktf output directory.

Deploy, destroy, env up/down, reap and synth replace ``<outdir>/stacks`` and (but synth) run cdktf from it; two
of them at once on one checkout would deploy stacks the other one is rewriting. The lock is an ``flock`` on
``<outdir>.lock`` beside the directory: the kernel releases it when the process ends, so a crash or a killed
run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from infra.lifecycle.errors import OperationFailed


def lock_path(outdir: Path) -> Path:
    return outdir.parent / f"{outdir.name}.lock"


@contextmanager
def exclusive_outdir(outdir: Path, *, purpose: str) -> Iterator[None]:
    """Hold ``outdir`` for ``purpose`` (e.g. ``deploy churn/dev``); fail at once if another process holds it."""
    path = lock_path(outdir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode(errors="replace").strip() or "another process"
            raise OperationFailed(
                f"{outdir} is in use by {holder}; one command that writes the stacks (deploy, destroy, env up/down, "
                "reap, synth, smoke of an AWS env) runs per checkout at a time, so wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(
            fd, f"pid {os.getpid()} ({purpose}, since {datetime.now(UTC):%Y-%m-%d %H:%M} UTC)".encode(), 0
        )
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the flock
