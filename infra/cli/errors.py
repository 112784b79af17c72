"""How the platform CLI reports bad input: one line on stderr, exit code 2, no traceback."""

import os
import signal
import sys
from typing import NoReturn

import typer

try:  # typer >= 0.20 vendors click; older versions use the click package
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover
    from click import exceptions as click_exceptions

# click < 8.2 (the pinned 8.1.8, as on Runtime 18 LTS ML) prints the help for a bare command and exits itself.
_NO_ARGS_IS_HELP = getattr(click_exceptions, "NoArgsIsHelpError", ())

USAGE_EXIT_CODE = 2
# What a shell reports for a command ended by Ctrl-C (128 + SIGINT).
INTERRUPTED_EXIT_CODE = 128 + signal.SIGINT


class UsageProblem(Exception):
    """Bad input from the user (arguments, config, files): reported as one line, exit code 2."""


def fail(*lines: str, code: int = USAGE_EXIT_CODE) -> NoReturn:
    for line in lines:
        print(f"error: {line}", file=sys.stderr)
    raise SystemExit(code)


class _Interrupts:
    """Ctrl-C, reported as one line. The jsii kernel (node, in the same process group) dies of the same SIGINT,
    and on its way out jsii prints the kernel's last words and, at exit, a BrokenPipeError traceback; the
    Python side may even see the dead pipe before the KeyboardInterrupt. So at the first SIGINT, stderr is
    pointed at /dev/null and the one line goes to the stderr saved from before."""

    received = False
    saved_stderr: int | None = None

    @classmethod
    def install(cls) -> None:
        signal.signal(signal.SIGINT, cls._on_sigint)

    @classmethod
    def _on_sigint(cls, signum: int, frame: object) -> None:
        if not cls.received:
            cls.received = True
            sys.stderr.flush()
            cls.saved_stderr = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        raise KeyboardInterrupt


def interrupted() -> NoReturn:
    """One line and exit 130, skipping atexit handlers (jsii's would write to its dead kernel). Cleanup has
    already run on the way up (finally blocks, context managers: a smoke run is cancelled, staging removed);
    the kernel drops the lock of lifecycle/lock.py with the process."""
    sys.stdout.flush()
    saved = _Interrupts.saved_stderr
    os.write(2 if saved is None else saved, b"error: interrupted\n")
    os._exit(INTERRUPTED_EXIT_CODE)


def run_cli(
    app: typer.Typer,
    argv: list[str] | None = None,
    *,
    prog_name: str | None = None,
    handle_interrupts: bool = False,
) -> None:
    """Run a typer app; usage errors become one line and exit code 2 instead of a usage panel.

    With ``handle_interrupts`` (the installed command, not in-process tests) Ctrl-C is one line and exit 130.
    """
    if handle_interrupts:
        _Interrupts.install()
    try:
        result = app(args=argv, standalone_mode=False, prog_name=prog_name)
    except KeyboardInterrupt:
        if not handle_interrupts:
            raise
        interrupted()
    except BrokenPipeError:
        if not _Interrupts.received:
            raise
        interrupted()
    except _NO_ARGS_IS_HELP:
        raise SystemExit(0) from None
    except click_exceptions.UsageError as exc:
        fail(exc.format_message())
    except typer.Abort:
        fail("aborted", code=1)
    except UsageProblem as exc:
        fail(str(exc))
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    if _Interrupts.received:  # typer turns a KeyboardInterrupt inside a command into a returned 130
        interrupted()
    raise SystemExit(result if isinstance(result, int) else 0)
