"""Orchestration: the Prefect flows (ingest, reprocess), their stages as thin tasks, how CPU work spreads,
the shared command line, and the scheduled deployment."""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit


def api_url_problem(url: str) -> str | None:
    """Why a PREFECT_API_URL cannot be the address of a Prefect API, in one line, or None (unset, or a URL)."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number from 0 to 65535
    except ValueError as exc:
        return f"PREFECT_API_URL: {url!r} is not a URL ({exc}): set it like http://127.0.0.1:4200/api, or unset it"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return (f"PREFECT_API_URL: {url!r} is not an http(s) URL: set it like http://127.0.0.1:4200/api, "
                "or unset it")
    return None


def before_prefect() -> None:
    """Prepare the environment Prefect reads when it is imported; called by each module that imports it.

    A fresh PREFECT_HOME's temporary API needs more than the default 20 s to start, and no usage data is sent.
    A PREFECT_API_URL that is not a URL ends the process with one line and exit 2: Prefect would stop at
    its import with a page of validation errors, or later with an httpx traceback. Ctrl-C before a command
    has started (while Prefect is imported) is one line, not a traceback of whatever was being imported."""
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")  # the client's side of it (and no notice about it on a terminal)
    if sys.excepthook is sys.__excepthook__:
        sys.excepthook = _interrupt_in_one_line
    problem = api_url_problem(os.environ.get("PREFECT_API_URL", ""))
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        raise SystemExit(2)


_command = {"started": False}


def command_started() -> None:
    """Note that the command has begun (its arguments are being read): a Ctrl-C no command catches from
    here on may come after it has done something."""
    _command["started"] = True


def _interrupt_in_one_line(kind: type[BaseException], value: BaseException, trace: object) -> None:
    """sys.excepthook: Ctrl-C that no command caught (one before the command started, while it loads) in
    one line; the process still ends as stopped by SIGINT (exit 130). Anything else as Python prints it."""
    if issubclass(kind, KeyboardInterrupt):
        print("stopped by Ctrl-C" if _command["started"] else
              "stopped by Ctrl-C before the command started: nothing was done", file=sys.stderr)
        return
    sys.__excepthook__(kind, value, trace)
