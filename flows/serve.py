"""Serves the ingest flow and the daily maintain flow as scheduled deployments (schedules from the config)."""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sys
from typing import Any

from flows import before_prefect

before_prefect()

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy  # noqa: E402
from prefect.exceptions import TerminationSignal  # noqa: E402
from prefect.runner import Runner  # noqa: E402
from prefect.schedules import Cron  # noqa: E402
from prefect.types.names import BANNED_CHARACTERS, WITHOUT_BANNED_CHARACTERS  # noqa: E402

from config.settings import ConfigError, Settings  # noqa: E402
from flows import cli, spread  # noqa: E402
from flows.ingest import ingest  # noqa: E402
from flows.maintain import maintain  # noqa: E402
from flows.runs import resolve_run  # noqa: E402


def _deployment(settings: Settings, cron: str, parameters: dict[str, Any], description: str) -> dict[str, Any]:
    """A deployment on a cron schedule in the configured time zone, at most one run at a time."""
    return {
        "name": settings.schedule.deployment,
        "schedules": [Cron(cron, timezone=settings.schedule.timezone)],
        "concurrency_limit": ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW),
        "parameters": parameters,
        "description": description,
        "tags": ["newsdesk"],
    }


def deployment_options(settings: Settings, config_path: str | None) -> dict[str, Any]:
    """The ingest deployment: cron schedule and time zone from the config, at most one run at a time."""
    return _deployment(settings, settings.schedule.cron,
                       {"config_path": config_path, "sources": None, "warehouse_path": None, "dry_run": False},
                       "Ingest the configured sources into the warehouse and publish the run digest.")


def maintain_options(settings: Settings, config_path: str | None) -> dict[str, Any]:
    """The maintain deployment: daily (schedule.maintain_cron), same time zone, one run at a time."""
    return _deployment(settings, settings.schedule.maintain_cron, {"config_path": config_path, "warehouse_path": None},
                       "Merge the warehouse's small files, expire old snapshots, delete files nothing needs.")


class GracefulRunner(Runner):
    """Prefect's Runner, stopped cleanly by SIGTERM.

    Prefect's own handler calls the runner's stop from inside the running event loop, where stop is
    the async astop: the coroutine is never awaited (a RuntimeWarning), and sys.exit then tears the
    loop down mid-poll. This one asks the loop to run astop, so start() returns as after Ctrl+C.
    """

    def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
        """Schedule the runner's stop on its event loop."""
        self._logger.info("SIGTERM received, shutting down")
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not inside the loop (should not happen): stop the way Ctrl+C does
            raise TerminationSignal(signal=signal.SIGTERM) from None
        loop.call_soon_threadsafe(self._stop_soon, loop)

    def _stop_soon(self, loop: asyncio.AbstractEventLoop) -> None:
        self._stopping_task = loop.create_task(self.astop())  # kept: the loop holds tasks only weakly


def deployments(settings: Settings, config_path: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both deployments' options, built before either is registered: the crons were checked as the config
    was loaded (config.settings.cron_problem), and Prefect checks each again as its schedule is made; the
    deployment's name by Prefect's rule for names (ConfigError naming the key)."""
    name = settings.schedule.deployment
    if not name.strip() or not re.match(WITHOUT_BANNED_CHARACTERS, name):
        raise ConfigError(f"{settings.config_path}: [schedule].deployment: {name!r}: must be a name without "
                          f"any of {' '.join(BANNED_CHARACTERS)}")
    built = []
    for key, options in (("cron", deployment_options), ("maintain_cron", maintain_options)):
        try:
            built.append(options(settings, config_path))
        except ValueError as exc:
            raise ConfigError(f"{settings.config_path}: [schedule].{key}: {str(exc).splitlines()[0]}") from None
    return built[0], built[1]


def serve_ingest(settings: Settings, options: tuple[dict[str, Any], dict[str, Any]], pause_on_shutdown: bool) -> None:
    """Serve the deployments (their options from deployments()) until interrupted. The runner is given the
    flow object itself, so every run keeps the task runner the config asks for (a run loaded from the
    deployment's entrypoint would get the flow's default one)."""
    ingest_options, upkeep_options = options
    runner = GracefulRunner(pause_on_shutdown=pause_on_shutdown)
    runner.add_flow(spread.with_runner(ingest, settings.parallel), **ingest_options)
    runner.add_flow(maintain, **upkeep_options)
    print(f"Serving {ingest.name}/{settings.schedule.deployment} (cron {settings.schedule.cron!r}) and "
          f"{maintain.name}/{settings.schedule.deployment} (cron {settings.schedule.maintain_cron!r}), "
          f"{settings.schedule.timezone}; Ctrl+C stops.", flush=True)
    try:
        asyncio.run(runner.start())
    except (KeyboardInterrupt, TerminationSignal) as exc:
        print(f"{type(exc).__name__}: shutting down", flush=True)
    else:
        print("SIGTERM: stopped serving", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Serve the deployment until interrupted; the schedule stays active while nothing serves it."""
    parser = argparse.ArgumentParser(prog="python -m flows.serve", description=__doc__)
    parser.add_argument("--config", help="pipeline config (default: config/pipeline.toml)")
    parser.add_argument("--pause-on-shutdown", action="store_true",
                        help="pause the schedule when this process stops (default: keep it active)")
    parser.add_argument("--check", action="store_true",
                        help="only check the config (make serve does, before it starts a server) and exit")
    args = parser.parse_args(argv)
    try:
        settings, _ = resolve_run(args.config)  # the taxonomy too: every scheduled run would stop on its mistake
        # both schedules built, and so checked, before anything is registered
        options = deployments(settings, str(settings.config_path) if args.config else None)
    except ConfigError as exc:
        return cli.fail(exc)
    if args.check:
        return 0
    serve_ingest(settings, options, args.pause_on_shutdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
