"""Rate alarms: windows in a time zone (weekdays, midnight, DST in Europe/Paris), validation, and
the monitor on a ManualClock raising and clearing from real runtime counters."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from flowengine.alarms import AlarmRule, UplinkCounter
from flowengine.clock import ManualClock

from .test_connections import served, with_link

BUSINESS = {
    "startTime": "2026-01-05T09:00:00+01:00", "endTime": "2026-01-05T18:00:00+01:00", "timezone": "Europe/Paris",
    "recurrence": [{"frequency": "weekly", "byDays": ["monday", "tuesday", "wednesday", "thursday", "friday"]}],
    "uplinkRateMinPerHour": 10, "message": "Low rate during business day...",
}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def rule(**changes) -> AlarmRule:
    parsed, problems = AlarmRule.parse({**BUSINESS, **changes})
    assert not problems, problems
    assert parsed is not None
    return parsed


def window(r: AlarmRule, when: str) -> tuple[str, str] | None:
    found = r.window_at(utc(when))
    return None if found is None else (found[0].isoformat(), found[1].isoformat())


def test_weekly_window_edges_and_weekdays():
    r = rule()
    # Monday 23 March 2026, winter time (UTC+1): 09:00-18:00 local = 08:00-17:00 UTC
    assert window(r, "2026-03-23T07:59:59+00:00") is None
    assert window(r, "2026-03-23T08:00:00+00:00") == ("2026-03-23T08:00:00+00:00", "2026-03-23T17:00:00+00:00")
    assert window(r, "2026-03-23T16:59:59+00:00") is not None
    assert window(r, "2026-03-23T17:00:00+00:00") is None  # the end is not inside
    assert window(r, "2026-03-27T12:00:00+00:00") is not None  # Friday
    assert window(r, "2026-03-28T12:00:00+00:00") is None  # Saturday
    assert window(r, "2026-03-29T12:00:00+00:00") is None  # Sunday
    # never before the first day
    assert window(r, "2026-01-02T12:00:00+00:00") is None
    assert r.next_edge(utc("2026-03-27T17:00:00+00:00")) == utc("2026-03-30T07:00:00+00:00")  # Monday, summer time


def test_windows_keep_local_time_across_dst_in_paris():
    r = rule()
    # after the last Sunday of March (29 March 2026) Paris is UTC+2: 09:00 local = 07:00 UTC
    assert window(r, "2026-03-30T07:00:00+00:00") == ("2026-03-30T07:00:00+00:00", "2026-03-30T16:00:00+00:00")
    assert window(r, "2026-03-30T06:59:00+00:00") is None
    # Friday before the last Sunday of October (25 October 2026): still summer time
    assert window(r, "2026-10-23T07:00:00+00:00") == ("2026-10-23T07:00:00+00:00", "2026-10-23T16:00:00+00:00")
    # the Monday after: winter time again
    assert window(r, "2026-10-26T07:30:00+00:00") is None
    assert window(r, "2026-10-26T08:00:00+00:00") == ("2026-10-26T08:00:00+00:00", "2026-10-26T17:00:00+00:00")


def test_night_window_over_the_dst_nights():
    night = rule(startTime="2026-01-01T22:00:00+01:00", endTime="2026-01-02T06:00:00+01:00", recurrence=[{"frequency": "daily"}])
    spring = night.window_at(utc("2026-03-29T00:30:00+00:00"))
    assert spring == (utc("2026-03-28T21:00:00+00:00"), utc("2026-03-29T04:00:00+00:00"))
    assert spring[1] - spring[0] == timedelta(hours=7)  # the night the clocks go forward
    autumn = night.window_at(utc("2026-10-25T00:30:00+00:00"))
    assert autumn == (utc("2026-10-24T20:00:00+00:00"), utc("2026-10-25T05:00:00+00:00"))
    assert autumn[1] - autumn[0] == timedelta(hours=9)  # the night they go back
    ordinary = night.window_at(utc("2026-03-24T00:30:00+00:00"))
    assert ordinary[1] - ordinary[0] == timedelta(hours=8)


def test_wall_times_that_do_not_exist_or_repeat():
    early = rule(startTime="2026-01-01T02:30:00+01:00", endTime="2026-01-01T05:00:00+01:00", recurrence=[{"frequency": "daily"}])
    # 29 March 2026 02:30 does not exist in Paris: it is read as 03:30 summer time (01:30 UTC)
    assert early.window_at(utc("2026-03-29T01:45:00+00:00"))[0] == utc("2026-03-29T01:30:00+00:00")
    # 25 October 2026 02:30 happens twice: the first (summer time, 00:30 UTC) is used
    assert early.window_at(utc("2026-10-25T00:45:00+00:00"))[0] == utc("2026-10-25T00:30:00+00:00")


def test_one_off_daily_and_weekly_without_days():
    once = rule(recurrence=[])
    assert window(once, "2026-01-05T10:00:00+00:00") is not None
    assert window(once, "2026-01-12T10:00:00+00:00") is None
    daily = rule(recurrence=[{"frequency": "daily"}])
    assert window(daily, "2026-01-10T10:00:00+00:00") is not None  # a Saturday
    mondays = rule(recurrence=[{"frequency": "weekly"}])  # the weekday of startTime (a Monday)
    assert window(mondays, "2026-01-12T10:00:00+00:00") is not None
    assert window(mondays, "2026-01-13T10:00:00+00:00") is None
    tokyo = rule(timezone="Asia/Tokyo", startTime="2026-01-05T09:00:00+09:00", endTime="2026-01-05T18:00:00+09:00")
    assert window(tokyo, "2026-01-06T00:00:00+00:00") is not None


def test_invalid_alarms_name_the_field():
    cases = {
        "/a/timezone": {"timezone": "Europe/Atlantis"},
        "/a/endTime": {"endTime": "2026-01-05T08:00:00+01:00"},
        "/a/startTime": {"startTime": "2026-01-05 09:00"},
        "/a/uplinkRateMinPerHour": {"uplinkRateMinPerHour": -1},
        "/a/recurrence/0/byDays": {"recurrence": [{"frequency": "weekly", "byDays": ["monday", "monday"]}]},
        "/a/recurrence/0/frequency": {"recurrence": [{"frequency": "hourly"}]},
        "/a": {"colour": "red"},
    }
    for pointer, change in cases.items():
        parsed, problems = AlarmRule.parse({**BUSINESS, **change}, "/a")
        assert parsed is None and pointer in [p for p, _ in problems], (change, problems)
    short = {**BUSINESS, "endTime": "2026-01-05T09:30:00+01:00"}
    assert "at least one hour" in AlarmRule.parse(short)[1][0][1]
    assert AlarmRule.parse("nope")[1] == [("", "expected an object")]


def test_counter_survives_restarts_of_the_nodes():
    counter = UplinkCounter()
    t0 = utc("2026-01-05T08:00:00+00:00")
    counter.update({"a": 5}, t0)
    counter.update({"a": 8}, t0 + timedelta(minutes=30))
    counter.update({"a": 2}, t0 + timedelta(minutes=40))  # node restarted: counts from 0 again
    assert counter.total == 10
    assert counter.since(t0) == 5 and counter.since(t0 + timedelta(minutes=35)) == 2


async def test_monitor_raises_and_clears_on_the_runtime_clock(tmp_path):
    document = with_link({"id": "feed", "type": "test-feed", "config": {"link": "link1"}})
    clock = ManualClock(utc("2026-03-30T06:00:00+00:00"))  # Monday 08:00 in Paris (summer time)
    async with served(tmp_path, document, clock=clock, interval=600) as env:
        events: list[dict] = []

        async def collect() -> None:
            async with env.runtime.events.subscribe() as subscription:
                while True:
                    event = await subscription.get()
                    if event["type"] == "alarm":
                        events.append(event)

        collector = asyncio.create_task(collect())
        await asyncio.sleep(0)
        response = await env.client.put("/api/connections/link1", json={"alarms": [BUSINESS]})
        assert response.status_code == 200, response.text
        assert response.json()["alarms"] == [BUSINESS]
        monitor = asyncio.create_task(env.connections.alarms.run())
        await asyncio.sleep(0.01)  # let it start sleeping on the clock

        async def feed(count: int) -> None:
            for _ in range(count):
                await env.runtime.inject("feed", {"n": 1})

        async def advance_to(text: str) -> None:
            await clock.advance(utc(text) - clock.now())
            await asyncio.sleep(0.01)

        async def status() -> dict:
            return (await env.client.get("/api/alarms")).json()["alarms"][0]

        try:
            await feed(20)  # before the window: does not count for it
            await advance_to("2026-03-30T07:00:00+00:00")  # 09:00 local: the window opens
            assert (await status())["state"] == "watching"
            await advance_to("2026-03-30T07:59:59+00:00")
            assert (await status())["state"] == "watching" and events == []
            await advance_to("2026-03-30T08:00:00+00:00")  # an hour of the window with no uplink
            assert [e["event"] for e in events] == ["raised"]
            assert events[0]["time"] == "2026-03-30T08:00:00+00:00" and events[0]["message"] == BUSINESS["message"]
            assert events[0]["connection"] == "link1" and events[0]["uplinksLastHour"] == 0
            view = (await env.client.get("/api/connections/link1")).json()
            assert view["alarmStatus"][0]["raised"] is True and view["alarmStatus"][0]["raisedAt"] == "2026-03-30T08:00:00+00:00"

            await advance_to("2026-03-30T08:05:00+00:00")
            await feed(12)
            await advance_to("2026-03-30T08:10:00+00:00")  # the next tick sees 12 in the last hour
            assert [e["event"] for e in events] == ["raised", "cleared"]
            assert (await status())["state"] == "ok"
            await advance_to("2026-03-30T09:10:00+00:00")  # those 12 are more than an hour old now
            assert [e["event"] for e in events] == ["raised", "cleared", "raised"]
            await advance_to("2026-03-30T16:00:00+00:00")  # 18:00 local: the window ends
            assert events[-1]["event"] == "cleared" and events[-1]["reason"] == "window ended"
            assert events[-1]["time"] == "2026-03-30T16:00:00+00:00"
            assert (await status())["state"] == "inactive"
            count = len(events)
            await advance_to("2026-04-04T12:00:00+00:00")  # through to Saturday
            # Tuesday to Friday raised at 08:00 local + 1 h and cleared at 18:00 local (summer time)
            raised = [e["time"] for e in events[count:] if e["event"] == "raised"]
            assert raised == ["2026-03-31T08:00:00+00:00", "2026-04-01T08:00:00+00:00",
                              "2026-04-02T08:00:00+00:00", "2026-04-03T08:00:00+00:00"]
            assert (await status())["state"] == "inactive"
            history = (await env.client.get("/api/alarms")).json()["events"]
            assert [e["event"] for e in history] == [e["event"] for e in events]
        finally:
            for task in (monitor, collector):
                task.cancel()
            await asyncio.gather(monitor, collector, return_exceptions=True)


async def test_monitor_across_the_spring_dst_change(tmp_path):
    morning = {"startTime": "2026-03-27T09:00:00+01:00", "endTime": "2026-03-27T12:00:00+01:00", "timezone": "Europe/Paris",
               "recurrence": [{"frequency": "daily"}], "uplinkRateMinPerHour": 1, "message": "quiet morning"}
    clock = ManualClock(utc("2026-03-28T07:00:00+00:00"))  # Saturday 08:00 in Paris (winter time)
    async with served(tmp_path, with_link(), clock=clock, interval=900) as env:
        await env.client.put("/api/connections/link1", json={"alarms": [morning]})
        monitor = asyncio.create_task(env.connections.alarms.run())
        await asyncio.sleep(0.01)  # let it start sleeping on the clock
        try:
            await clock.advance(utc("2026-03-29T12:00:00+00:00") - clock.now())
            await asyncio.sleep(0.01)
        finally:
            monitor.cancel()
            await asyncio.gather(monitor, return_exceptions=True)
        events = [(e["event"], e["time"]) for e in env.connections.alarms.history]
        assert events == [
            ("raised", "2026-03-28T09:00:00+00:00"), ("cleared", "2026-03-28T11:00:00+00:00"),  # UTC+1
            ("raised", "2026-03-29T08:00:00+00:00"), ("cleared", "2026-03-29T10:00:00+00:00"),  # UTC+2
        ]


async def test_inactive_connections_and_removed_alarms(tmp_path):
    clock = ManualClock(utc("2026-03-30T06:00:00+00:00"))
    always = {**BUSINESS, "recurrence": [{"frequency": "daily"}]}
    async with served(tmp_path, with_link(), clock=clock) as env:
        await env.client.put("/api/connections/link1", json={"alarms": [always]})
        env.connections.alarms.evaluate(utc("2026-03-30T07:00:00+00:00"))
        env.connections.alarms.evaluate(utc("2026-03-30T08:00:00+00:00"))
        assert (await env.client.get("/api/connections/link1")).json()["alarmStatus"][0]["state"] == "raised"
        clock.set(utc("2026-03-30T08:00:00+00:00"))
        await env.client.put("/api/connections/link1", json={"alarms": []})  # removing it clears it
        assert [e["event"] for e in env.connections.alarms.history] == ["raised", "cleared"]
        assert env.connections.alarms.history[-1]["reason"] == "alarm removed"
        await env.client.put("/api/connections/link1", json={"alarms": [always], "active": False})
        assert (await env.client.get("/api/alarms")).json()["alarms"] == []  # an inactive connection is not watched
