"""The seed-000 application status: Provisioned, Running, Inactive, Disabled."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlite_utils

from flowengine.app_status import AppState, AppStatus
from flowengine.clock import ManualClock


def test_states_follow_the_seed() -> None:
    clock = ManualClock()
    status = AppStatus(clock, window=timedelta(days=2))
    assert status.state() is AppState.PROVISIONED and status.color() == "blue"
    status.success()
    assert status.state() is AppState.RUNNING and status.color() == "green"
    clock.set(clock.now() + timedelta(hours=1))
    status.failure("HTTP 500")  # an occasional error: still running, shown in yellow
    assert status.state() is AppState.RUNNING and status.color() == "yellow"
    clock.set(clock.now() + timedelta(days=2))
    assert status.state() is AppState.INACTIVE
    status.set_enabled(False)
    assert status.state() is AppState.DISABLED
    data = status.to_json()
    assert data["lastError"] == "HTTP 500" and data["counters"]["delivered"] == 1 and data["counters"]["failed"] == 1


def test_only_failures_is_inactive() -> None:
    status = AppStatus(ManualClock())
    status.failure("timed out")
    assert status.state() is AppState.INACTIVE


def test_save_and_restore(tmp_path) -> None:
    clock = ManualClock()
    db = sqlite_utils.Database(tmp_path / "db.sqlite")
    status = AppStatus(clock)
    status.success()
    status.failure("HTTP 503", rejected=True)
    status.save(db, "n1")
    again = AppStatus(clock)
    assert again.restore(db, "n1")
    assert again.last_success == status.last_success and again.last_error == "HTTP 503"
    assert again.counters.rejected == 1 and again.state() is AppState.RUNNING
    assert not AppStatus(clock).restore(db, "other")
    db.close()


async def test_watch_publishes_changes_and_the_timeout_to_inactive() -> None:
    clock = ManualClock()
    status = AppStatus(clock, window=timedelta(hours=1))
    seen: list[str] = []
    task = asyncio.create_task(status.watch(lambda s: seen.append(s.state().value)))
    await asyncio.sleep(0)
    status.success()
    for _ in range(5):
        await asyncio.sleep(0)
    assert seen[-1] == "Running"
    await clock.advance(timedelta(minutes=59))
    assert seen[-1] == "Running"
    await clock.advance(timedelta(minutes=1))
    assert seen[-1] == "Inactive"
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert seen[0] == "Provisioned"
