"""How the platform CLI reports bad input: one line on stderr, exit code 2, no traceback."""

import sys
from typing import NoReturn

import typer

try:  # typer >= 0.20 vendors click; older versions use the click package
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover
    from click import exceptions as click_exceptions

USAGE_EXIT_CODE = 2


class UsageProblem(Exception):
    """Bad input from the user (arguments, config, files): reported as one line, exit code 2."""


def fail(*lines: str, code: int = USAGE_EXIT_CODE) -> NoReturn:
    for line in lines:
        print(f"error: {line}", file=sys.stderr)
    raise SystemExit(code)


def run_cli(
    app: typer.Typer,
    argv: list[str] | None = None,
    *,
    prog_name: str | None = None,
) -> None:
    """Run a typer app; usage errors become one line and exit code 2 instead of a usage panel."""
    try:
        result = app(args=argv, standalone_mode=False, prog_name=prog_name)
    except click_exceptions.NoArgsIsHelpError:
        raise SystemExit(0) from None
    except click_exceptions.UsageError as exc:
        fail(exc.format_message())
    except typer.Abort:
        fail("aborted", code=1)
    except UsageProblem as exc:
        fail(str(exc))
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    raise SystemExit(result if isinstance(result, int) else 0)
