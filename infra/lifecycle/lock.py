"""One command at a time per cdktf output directory.

Deploy, destroy, env up/down, reap and synth replace ``<outdir>/stacks`` and (but synth) run cdktf from it; two
of them at once on one checkout would deploy stacks the other one is rewriting. The lock is an ``flock`` on
``<outdir>.lock`` beside the directory: the kernel releases it when the process ends, so a crash or a killed
run never leaves a stale lock behind. The file is only ever one of ours (empty, or a holder's note): a file of
the user's that happens to be called ``<outdir>.lock`` (``--out poetry`` beside ``poetry.lock``), or a symlink, is
refused rather than truncated.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from infra.lifecycle.errors import OperationFailed

# What a lock file of ours holds while held, or after its holder was killed; released, it is empty.
HOLDER_NOTE = b"pid "
# The lock files this process holds: the cdktf and terraform it starts inherit them (runner.py), so a command
# killed while terraform applies keeps the directory locked until terraform, still running, ends.
_held: set[int] = set()


def held_lock_fds() -> tuple[int, ...]:
    """The file descriptors of the output locks this process holds, for its child processes to inherit."""
    return tuple(sorted(_held))


def lock_path(outdir: Path) -> Path:
    return outdir.parent / f"{outdir.name}.lock"


def foreign_lock_file(outdir: Path) -> str | None:
    """Why ``<outdir>.lock`` is not ours to lock and rewrite (a symlink, not a file, someone's content), or None."""
    path = lock_path(outdir)
    if path.is_symlink():
        return f"{path} is a symlink, not a lock file of the platform CLI"
    if not path.exists():
        return None
    if not path.is_file():
        return f"{path} exists and is not a lock file of the platform CLI"
    try:
        with path.open("rb") as held:
            head = held.read(len(HOLDER_NOTE))
    except OSError as exc:
        return f"{path}: cannot read it ({exc.strerror})"
    if head and head != HOLDER_NOTE:
        return f"{path} holds something other than a platform CLI lock note; it is not the CLI's to overwrite"
    return None


@contextmanager
def exclusive_outdir(outdir: Path, *, purpose: str) -> Iterator[None]:
    """Hold ``outdir`` for ``purpose`` (e.g. ``deploy churn/dev``); fail at once if another process holds it."""
    path = lock_path(outdir)
    path.parent.mkdir(parents=True, exist_ok=True)
    if problem := foreign_lock_file(outdir):
        raise OperationFailed(f"{problem}; move it away or name another output directory")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise  # an unwritable place: the caller names its field (synth: `--out: cannot write ...`)
        raise OperationFailed(f"{path} is a symlink, not a lock file of the platform CLI") from None
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
        _held.add(fd)
        try:
            yield
        finally:
            _held.discard(fd)
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the flock
