"""The source-health state machine: backoff, Retry-After, disabling and recovery."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tasks.sources.health import HealthPolicy, SourceState, backoff, is_due, record_failure, record_success

NOW = datetime(2025, 3, 6, 12, 0, tzinfo=timezone.utc)
POLICY = HealthPolicy(base_interval_minutes=30, max_backoff_hours=24, disable_after=10)


def fresh() -> SourceState:
    return SourceState(source="world", url="https://news.example.org/feed.rss")


def fail(state: SourceState, label: str = "timeout", times: int = 1, **kwargs) -> SourceState:
    for _ in range(times):
        state = record_failure(state, NOW, label, f"{label} fetching the feed", POLICY, **kwargs)
    return state


def test_backoff_doubles_then_caps() -> None:
    waits = []
    state = fresh()
    for _ in range(8):
        state = fail(state)
        waits.append(state.next_poll_at - NOW)
    assert waits[:6] == [timedelta(minutes=m) for m in (30, 60, 120, 240, 480, 960)]
    assert waits[6:] == [timedelta(hours=24), timedelta(hours=24)]
    assert backoff(1000, POLICY) == timedelta(hours=24)


def test_failure_records_what_happened() -> None:
    state = fail(fresh(), "http 503")
    assert (state.consecutive_failures, state.last_status, state.last_polled) == (1, "http 503", NOW)
    assert state.last_error == "http 503 fetching the feed" and state.last_success is None
    assert not state.disabled


def test_retry_after_is_honoured() -> None:
    state = fail(fresh(), "http 429", retry_after=7200)
    assert state.next_poll_at == NOW + timedelta(hours=2)
    assert fail(fresh(), "http 503", retry_after=10 * 86400).next_poll_at == NOW + timedelta(hours=24)


def test_gone_disables_at_once() -> None:
    state = fail(fresh(), "http 410", permanent=True)
    assert state.disabled and state.consecutive_failures == 1
    assert "http 410" in state.disabled_reason
    assert not is_due(state, NOW + timedelta(days=365))


def test_a_refusal_by_this_machines_rules_is_recorded_but_neither_backed_off_nor_counted() -> None:
    state = fail(fail(fresh(), "timeout"), "refused address", times=12)
    assert (state.last_status, state.consecutive_failures, state.disabled) == ("refused address", 1, False)
    assert state.last_polled == NOW and state.next_poll_at == NOW + timedelta(minutes=POLICY.base_interval_minutes)


@pytest.mark.parametrize("label", ["http 404", "dns", "parse error", "bad url"])
def test_repeated_hard_failures_disable(label: str) -> None:
    state = fail(fresh(), label, times=9)
    assert not state.disabled
    state = fail(state, label)
    assert state.disabled and state.disabled_reason == f"disabled after 10 consecutive failures: {label}"


@pytest.mark.parametrize("label", ["timeout", "connect", "http 500", "http 429", "too large", "empty"])
def test_soft_failures_only_back_off(label: str) -> None:
    state = fail(fresh(), label, times=25)
    assert not state.disabled and state.consecutive_failures == 25
    assert state.next_poll_at == NOW + timedelta(hours=24)


def test_success_resets_failures() -> None:
    state = fail(fresh(), "http 404", times=5)
    state = record_success(state, NOW, "ok (bozo: undefined entity)", POLICY)
    assert state.consecutive_failures == 0 and state.last_error is None
    assert (state.last_status, state.last_success, state.last_polled) == ("ok (bozo: undefined entity)", NOW, NOW)
    assert state.next_poll_at == NOW + timedelta(minutes=30)
    assert (fail(state, "http 404", times=9)).disabled is False  # the count starts again


def test_a_disabled_source_polled_with_success_is_enabled_again() -> None:
    gone = fail(fresh(), "http 410", permanent=True)
    assert gone.disabled and not is_due(gone, NOW + timedelta(days=30))
    back = record_success(gone, NOW, "ok", POLICY)  # polled because a person named it (--source)
    assert not back.disabled and back.disabled_reason is None and is_due(back, NOW + timedelta(minutes=30))


def test_records_are_pure() -> None:
    state = fresh()
    fail(state, times=3)
    record_success(state, NOW, "ok", POLICY)
    assert state == fresh()


def test_is_due() -> None:
    assert is_due(fresh(), NOW)
    waiting = record_success(fresh(), NOW, "ok", POLICY)
    assert not is_due(waiting, NOW + timedelta(minutes=28))
    assert is_due(waiting, NOW + timedelta(minutes=30))


def test_policy_checks_its_values() -> None:
    with pytest.raises(ValueError):
        HealthPolicy(base_interval_minutes=0)
    with pytest.raises(ValueError):
        HealthPolicy(disable_after=0)


def test_a_run_on_a_schedule_of_the_same_period_is_not_skipped_for_starting_a_little_early() -> None:
    # an hourly schedule with a 60-minute interval: the poll happened 20 s into the run, and the next run
    # starts on the hour, 20 s before the poll time; it used to find the feed not due and skip it for an hour
    hourly = HealthPolicy(base_interval_minutes=60, max_backoff_hours=24, disable_after=10)
    polled = record_success(fresh(), NOW + timedelta(seconds=20), "ok", hourly)
    assert is_due(polled, NOW + timedelta(hours=1))
    assert not is_due(polled, NOW + timedelta(minutes=50))  # earlier than that is not the same schedule
    # the same for a failing feed backed off to the 24-hour cap and a daily run
    down = record_failure(fresh(), NOW + timedelta(seconds=20), "timeout", "timeout", hourly, retry_after=86_400)
    assert is_due(down, NOW + timedelta(days=1)) and not is_due(down, NOW + timedelta(hours=22))


def test_a_feed_that_asked_to_be_left_alone_is_not_polled_before_the_time_it_gave() -> None:
    # a 429 or 503 with Retry-After names the time the server will answer again: a run a little before it
    # would only be refused again (and back the feed off further)
    hourly = HealthPolicy(base_interval_minutes=60, max_backoff_hours=24, disable_after=10)
    for label in ("http 429", "http 503"):
        asked = record_failure(fresh(), NOW, label, f"HTTP {label[5:]} from the feed", hourly, retry_after=3600)
        assert not is_due(asked, NOW + timedelta(minutes=59, seconds=50)), label
        assert is_due(asked, NOW + timedelta(hours=1)), label
