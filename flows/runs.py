"""What every flow run starts from: its settings (the config with the run's parameters applied) and its id."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from config.settings import Settings, load_settings, with_overrides

if TYPE_CHECKING:  # the taxonomy's code (stemmers, learned terms) is loaded by runs, not by read-only commands
    from tasks.s6_tag import Taxonomy


def new_run_id(now: datetime) -> str:
    """A sortable, unique run id: UTC time plus a short random suffix."""
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


# the command-line options whose values a flow run takes as parameters
OPTION_PARAMETERS = {"--source": "sources", "--warehouse": "warehouse_path"}


def setup_failure(exc: Exception) -> str:
    """A run's settings or warehouse error as its parameters name things: a deployment run was given
    `sources` and `warehouse_path`, not --source and --warehouse (the command line checks before its run)."""
    message = str(exc)
    for option, parameter in OPTION_PARAMETERS.items():
        if message.startswith(option + " "):
            return f"{parameter}: {message[len(option) + 1:]}"
        if message.startswith(option + ":"):
            return parameter + message[len(option):]
    return message


def resolve_settings(config_path: str | None, sources: list[str] | None = None, warehouse_path: str | None = None,
                     allow_private_hosts: bool | None = None) -> Settings:
    """Load the config and apply one run's overrides (raises ConfigError with a one-line reason)."""
    return with_overrides(load_settings(config_path), sources=sources, warehouse=warehouse_path,
                          allow_private_hosts=allow_private_hosts)


def resolve_run(config_path: str | None, sources: list[str] | None = None, warehouse_path: str | None = None,
                allow_private_hosts: bool | None = None) -> tuple[Settings, Taxonomy]:
    """The run's settings and its issue taxonomy, both checked (raises ConfigError with a one-line reason)."""
    from tasks import s6_tag as tag

    settings = resolve_settings(config_path, sources, warehouse_path, allow_private_hosts)
    return settings, tag.load_taxonomy(settings.tags.taxonomy)
