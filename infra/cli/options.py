"""Options and the config loader every `platform` command shares."""

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from infra import project
from infra.cli.errors import fail
from infra.config import ConfigError, PlatformConfig, load_config

# Help text is rich markup: `\[` keeps a literal `[default: ...]` from being read as a style tag and dropped.
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Config file \\[default: $PLATFORM_CONFIG or ./platform.yaml]."),
]
OutOption = Annotated[
    Path | None,
    typer.Option("--out", "-o", help="Output directory \\[default: cdktf.out at the project root]."),
]
WheelOption = Annotated[
    Path | None, typer.Option("--wheel", help="Churn wheel to deploy \\[default: build it from ml/].")
]


def load_or_fail(config: Path | None) -> PlatformConfig:
    """The validated config, or one line per problem and exit 2."""
    try:
        return load_config(config)
    except ConfigError as exc:
        fail(*exc.lines())


def default_outdir() -> Path:
    """cdktf.json's output directory, at the project root whatever the working directory."""
    return project.project_root() / "cdktf.out"


def full_width(console: Console) -> Console:
    """``console`` at a terminal; off one (CI logs, a pipe) a wide console, because rich would squeeze tables into
    80 columns and cut their values."""
    return console if console.is_terminal else Console(width=200)
