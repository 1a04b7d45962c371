"""Keeps each feed source's health: when to poll it next, how far to back off, and when to give up."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from tasks.records import SourceState  # noqa: F401 - re-exported: callers import it with the policy

LOGGER = logging.getLogger(__name__)

# Failures that will not fix themselves by waiting: they count toward disabling a source.
HARD_FAILURES = frozenset({"dns", "http 404", "http 410", "parse error", "bad url"})
# Refusals by this machine's own rules (an address [http] allow_private_hosts keeps out): nothing was
# asked of the source, so it is not backed off and nothing counts toward disabling it; it is due again
# after the usual interval (a person naming it with --source polls it at once, and so does a run that allows
# private addresses: tasks.sources.feeds.poll_feeds).
POLICY_REFUSALS = frozenset({"refused address"})
# The answers that may carry Retry-After: the wait after them may be the server's own time, never run early.
SERVER_WAITS = frozenset({"http 429", "http 503"})


@dataclass(frozen=True)
class HealthPolicy:
    """How often a healthy source is polled, how far a failing one backs off, and when it is disabled."""

    base_interval_minutes: float = 30
    max_backoff_hours: float = 24
    disable_after: int = 10

    def __post_init__(self) -> None:
        if self.base_interval_minutes <= 0:
            raise ValueError("base_interval_minutes must be positive")
        if self.max_backoff_hours * 60 < self.base_interval_minutes:
            raise ValueError("max_backoff_hours must not be shorter than the base interval")
        if self.disable_after < 1:
            raise ValueError("disable_after must be at least 1")



# A run that starts a little before a source's next poll time polls it: a schedule of the same period as
# the wait (an hourly run, a 60-minute interval) starts each run a few seconds before the previous poll's
# time comes round again, and would otherwise skip every other run. Early by up to this share of the
# wait, and by no more than DUE_EARLY_MAX; never early after an answer that may have named its own time
# (SERVER_WAITS: Retry-After is honoured to the second).
DUE_EARLY_SHARE = 0.05
DUE_EARLY_MAX = timedelta(minutes=5)


def is_due(state: SourceState, now: datetime) -> bool:
    """True when the source is enabled and its next poll time has come (or was never set), or comes within
    DUE_EARLY_SHARE of its wait since the last poll (at most DUE_EARLY_MAX; not after SERVER_WAITS)."""
    if state.disabled:
        return False
    if state.next_poll_at is None:
        return True
    wait = (state.next_poll_at - state.last_polled
            if state.last_polled is not None and state.last_status not in SERVER_WAITS else timedelta(0))
    return state.next_poll_at - min(max(wait, timedelta(0)) * DUE_EARLY_SHARE, DUE_EARLY_MAX) <= now


def not_due_reason(state: SourceState, now: datetime) -> str:
    """Why a source is not polled now, for the digest: "not due until 22:32 UTC (backing off after 1 failure)"."""
    if state.disabled:
        return f"disabled: {state.disabled_reason or state.last_status or 'no reason recorded'}"
    when = state.next_poll_at or now
    at = f"{when:%H:%M} UTC" if when.date() == now.date() else f"{when:%Y-%m-%d %H:%M} UTC"
    if state.consecutive_failures:
        n = state.consecutive_failures
        return f"not due until {at} (backing off after {n} failure{'s' if n > 1 else ''}: {state.last_status})"
    polled = f"last polled {state.last_polled:%H:%M} UTC" if state.last_polled else "polled recently"
    return f"not due until {at} ({polled})"


def is_hard_failure(error_label: str) -> bool:
    """True for failures that waiting will not cure (unknown host, gone page, not a feed...)."""
    return error_label in HARD_FAILURES


def backoff(failures: int, policy: HealthPolicy) -> timedelta:
    """The wait after the given number of consecutive failures: the base interval doubled each time, capped."""
    base = policy.base_interval_minutes * 60
    cap = policy.max_backoff_hours * 3600
    exponent = min(max(failures - 1, 0), 64)  # beyond this the cap applies anyway
    return timedelta(seconds=min(base * 2 ** exponent, cap))


def record_success(state: SourceState, now: datetime, status: str,
                   policy: HealthPolicy | None = None) -> SourceState:
    """The state after a successful poll ("ok", "not modified", "unchanged", "ok (bozo: ...)").

    A disabled source is only polled when a person names it (--source); when that works, it is
    enabled again.
    """
    policy = policy or HealthPolicy()
    return dataclasses.replace(
        state, last_status=status, last_error=None, last_success=now, last_polled=now,
        consecutive_failures=0, disabled=False, disabled_reason=None,
        next_poll_at=now + timedelta(minutes=policy.base_interval_minutes))


def record_failure(state: SourceState, now: datetime, error_label: str, detail: str,
                   policy: HealthPolicy | None = None, retry_after: float | None = None,
                   permanent: bool = False) -> SourceState:
    """The state after a failed poll: backed off, or disabled when the source is gone or keeps failing hard.

    A source is disabled at once when the failure is permanent (HTTP 410), and after
    policy.disable_after consecutive failures when the latest of them is a hard one; transient
    failures (timeouts, 5xx) only back off, up to policy.max_backoff_hours. A refusal by this
    machine's own rules (POLICY_REFUSALS) is recorded, neither backed off nor counted.
    """
    policy = policy or HealthPolicy()
    if error_label in POLICY_REFUSALS:  # due again after the usual interval, neither backed off nor counted
        return dataclasses.replace(state, last_status=error_label, last_error=detail, last_polled=now,
                                   next_poll_at=now + timedelta(minutes=policy.base_interval_minutes))
    failures = state.consecutive_failures + 1
    if retry_after is not None:
        wait = timedelta(seconds=min(max(retry_after, 0.0), policy.max_backoff_hours * 3600))
    else:
        wait = backoff(failures, policy)
    disabled, reason = state.disabled, state.disabled_reason
    if not disabled and permanent:
        disabled, reason = True, f"permanently gone ({error_label}): {detail}"
    elif not disabled and is_hard_failure(error_label) and failures >= policy.disable_after:
        disabled, reason = True, f"disabled after {failures} consecutive failures: {error_label}"
    if disabled and not state.disabled:
        LOGGER.info("feed source %s disabled: %s", state.source, reason)  # the flow logs it to the run
    return dataclasses.replace(
        state, last_status=error_label, last_error=detail, last_polled=now,
        consecutive_failures=failures, next_poll_at=now + wait, disabled=disabled,
        disabled_reason=reason)
