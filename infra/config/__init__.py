"""Typed platform config: models, name derivation and loading."""

from infra.config.loader import ConfigError, load_config, parse_config
from infra.config.model import PlatformConfig, TeamEnv
from infra.config.team import TeamConfig

__all__ = ["ConfigError", "PlatformConfig", "TeamConfig", "TeamEnv", "load_config", "parse_config"]
