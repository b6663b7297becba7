"""`llms.json`: schema, loading, `$ENV` secrets. Imported only by `llms.app`."""

from .loader import PACKAGED, home_dir, init_home, load_config, load_text
from .schema import Config, ConfigError, ProviderConfig, Timeouts, parse_config

__all__ = [
    "PACKAGED",
    "Config",
    "ConfigError",
    "ProviderConfig",
    "Timeouts",
    "home_dir",
    "init_home",
    "load_config",
    "load_text",
    "parse_config",
]
