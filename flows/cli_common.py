"""Command-line pieces shared by the small commands (digest, sources, search, export): the --config and
--warehouse options as flows.ingest reads them, and its exit codes (0 done; 2 a bad config, path or
input, said in one line on stderr)."""

from __future__ import annotations

import argparse
import sys

from config.settings import ConfigError, Settings, load_settings, with_overrides

EXIT_OK = 0
EXIT_BAD_INPUT = 2


class BadInput(ValueError):
    """A command's input (a file, a query, an option) cannot be used; str() is the one-line reason."""


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """--config and --warehouse, as flows.ingest takes them."""
    parser.add_argument("--config", help="pipeline config (default: config/pipeline.toml)")
    parser.add_argument("--warehouse", metavar="PATH", help="the DuckDB file (default from config)")


def command_settings(args: argparse.Namespace) -> Settings:
    """The config with the --warehouse override (raises ConfigError with a one-line reason)."""
    return with_overrides(load_settings(args.config), warehouse=args.warehouse)


def fail(message: object) -> int:
    """Say what is wrong in one line on stderr and return the exit code for bad input."""
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return EXIT_BAD_INPUT


__all__ = ["BadInput", "ConfigError", "EXIT_BAD_INPUT", "EXIT_OK", "add_common_arguments", "command_settings",
           "fail"]
