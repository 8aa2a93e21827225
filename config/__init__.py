"""Configuration: one YAML file validated by pydantic models (``config.models``); see ``load_config``."""

from config.loader import ConfigError, ConfigIssue, check_config_main, format_errors, load_config
from config.models import Config

__all__ = ["Config", "ConfigError", "ConfigIssue", "check_config_main", "format_errors", "load_config"]
