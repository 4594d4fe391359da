"""Rate alarms on connections (seed 004): raise when too few uplinks arrive during a time window.

An alarm, as the API takes it::

    {"startTime": "2019-01-31T09:00:00+01:00", "endTime": "2019-01-31T18:00:00+01:00",
     "timezone": "Europe/Paris",
     "recurrence": [{"frequency": "weekly", "byDays": ["monday", "tuesday", "wednesday"]}],
     "uplinkRateMinPerHour": 10, "message": "Low rate during business day..."}

**Windows.** Without ``recurrence`` the window is the one interval [startTime, endTime). With it,
the window repeats on every day (``daily``) or on the ``byDays`` (``weekly``; without ``byDays``,
the weekday of ``startTime``), from the day of ``startTime`` on. A repeated window keeps the
*local wall-clock* times of ``startTime`` and ``endTime`` in ``timezone`` (``zoneinfo``), so
"09:00-18:00 Europe/Paris" is 08:00-17:00 UTC in winter and 07:00-16:00 UTC in summer, and a
night window over a daylight-saving change is one hour shorter (March) or longer (October). A
window may cross midnight (its end day is the start day plus the days between the two dates). A
wall-clock time that does not exist on a spring-forward day (02:30) is read as the instant one
hour later (03:30 summer time); an ambiguous one (autumn) as its first occurrence.

**Rate.** The uplink rate of a connection is the number of messages its source nodes (``mqtt-in``
through a broker, ...) sent in the last hour, read from the runtime's counters each evaluation.
Inside a window the alarm is judged once an hour of the window has been observed (or an hour
after monitoring began, after a restart): below ``uplinkRateMinPerHour`` it is raised, at or
above it is cleared. Before that first hour it is ``watching`` (or cleared at once if the minimum
is already reached). A window's end clears a raised alarm.

**Where it shows.** Raising and clearing publish ``{"type": "alarm", "event": "raised"|"cleared",
...}`` on the runtime's event bus (so the events WebSocket carries them), ``GET /api/alarms`` lists
every alarm's state, and each connection's view carries its own (``alarmStatus``).

The monitor wakes every ``interval`` seconds and exactly at each window start, end and first
judgement, on the runtime clock (``ManualClock`` in tests). A window lasts from one hour to
seven days.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flowengine.clock import Clock
from flowengine.events import EventBus

log = logging.getLogger("flowengine.alarms")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
HOUR = timedelta(hours=1)

ALARM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["startTime", "endTime", "uplinkRateMinPerHour"],
    "properties": {
        "startTime": {"type": "string", "format": "date-time", "description": "Start of the (first) window, ISO 8601 with offset."},
        "endTime": {"type": "string", "format": "date-time", "description": "End of the (first) window, after startTime."},
        "timezone": {"type": "string", "default": "UTC", "description": "IANA time zone whose wall clock the repeated windows keep."},
        "recurrence": {
            "type": "array",
            "default": [],
            "description": "Empty: one window. daily: every day; weekly: on byDays.",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["frequency"],
                "properties": {
                    "frequency": {"type": "string", "enum": ["daily", "weekly"]},
                    "byDays": {"type": "array", "items": {"type": "string", "enum": list(WEEKDAYS)}, "uniqueItems": True},
                },
            },
        },
        "uplinkRateMinPerHour": {"type": "number", "minimum": 0, "description": "Raise when fewer uplinks than this arrived in the last hour."},
        "message": {"type": "string", "default": "", "description": "Text carried by the alarm."},
    },
}


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _parse_time(value: Any) -> datetime | None:
    """An RFC 3339 date-time with an offset (what ``format: date-time`` means), else ``None``."""
    if not isinstance(value, str) or not _RFC3339.match(value):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


@dataclass(frozen=True)
class AlarmRule:
    """One validated alarm definition."""

    start: datetime
    end: datetime
    timezone: str
    days: frozenset[int] | None
    """Weekdays (0 = Monday) the window repeats on; ``None`` for a single window."""
    min_per_hour: float
    message: str
    definition: tuple[tuple[str, Any], ...] = field(compare=False, repr=False, default=())

    @classmethod
    def parse(cls, data: Any, pointer: str = "") -> tuple[AlarmRule | None, list[tuple[str, str]]]:
        """The rule of an API alarm object, or the ``(pointer, reason)`` problems with it."""
        if not isinstance(data, dict):
            return None, [(pointer, "expected an object")]
        problems: list[tuple[str, str]] = []
        unknown = sorted(set(data) - set(ALARM_SCHEMA["properties"]))
        if unknown:
            problems.append((pointer, f"unknown field(s): {', '.join(unknown)}"))
        start, end = _parse_time(data.get("startTime")), _parse_time(data.get("endTime"))
        for key, parsed in (("startTime", start), ("endTime", end)):
            if parsed is None:
                problems.append((f"{pointer}/{key}", "expected an ISO 8601 date-time with an offset, e.g. 2019-01-31T09:00:00+01:00"))
        if start and end and end <= start:
            problems.append((f"{pointer}/endTime", "must be after startTime"))
        if start and end and timedelta(0) < end - start < HOUR:
            problems.append((f"{pointer}/endTime", "a window lasts at least one hour (the rate is judged per hour)"))
        if start and end and end - start > timedelta(days=7):
            problems.append((f"{pointer}/endTime", "a window lasts at most 7 days"))
        zone = data.get("timezone", "UTC")
        try:
            if not isinstance(zone, str) or not zone:
                raise ZoneInfoNotFoundError
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append((f"{pointer}/timezone", "not a known IANA time zone (e.g. Europe/Paris)"))
            zone = "UTC"
        rate = data.get("uplinkRateMinPerHour")
        if isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 0:
            problems.append((f"{pointer}/uplinkRateMinPerHour", "expected a number >= 0"))
        message = data.get("message", "")
        if not isinstance(message, str):
            problems.append((f"{pointer}/message", "expected a string"))
        days: set[int] | None = None
        recurrence = data.get("recurrence", [])
        if not isinstance(recurrence, list):
            problems.append((f"{pointer}/recurrence", "expected a list"))
            recurrence = []
        for index, item in enumerate(recurrence):
            at = f"{pointer}/recurrence/{index}"
            if not isinstance(item, dict) or item.get("frequency") not in ("daily", "weekly"):
                problems.append((f"{at}/frequency", "expected daily or weekly"))
                continue
            if set(item) - {"frequency", "byDays"}:
                problems.append((at, f"unknown field(s): {', '.join(sorted(set(item) - {'frequency', 'byDays'}))}"))
            days = days or set()
            by_days = item.get("byDays", [])
            if item["frequency"] == "daily":
                days.update(range(7))
            elif not isinstance(by_days, list) or any(d not in WEEKDAYS for d in by_days) or len(set(by_days)) != len(by_days):
                problems.append((f"{at}/byDays", f"expected a list of distinct days among {', '.join(WEEKDAYS)}"))
            elif by_days:
                days.update(WEEKDAYS.index(d) for d in by_days)
            elif start is not None:
                days.add(start.astimezone(ZoneInfo(zone)).weekday())
        if problems or start is None or end is None:
            return None, problems
        definition = tuple(sorted((k, repr(v)) for k, v in data.items()))
        return cls(start, end, zone, None if days is None else frozenset(days), float(rate), message, definition), []  # type: ignore[arg-type]

    # -- windows ----------------------------------------------------------------------------

    @property
    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _daily_parts(self) -> tuple[date, time, int, time]:
        start = self.start.astimezone(self._zone)
        end = self.end.astimezone(self._zone)
        return start.date(), start.time().replace(tzinfo=None), (end.date() - start.date()).days, end.time().replace(tzinfo=None)

    def _on(self, day: date) -> tuple[datetime, datetime] | None:
        """The window that starts on local date ``day`` (UTC instants), if there is one."""
        first, start_time, span, end_time = self._daily_parts()
        if self.days is None or day < first or day.weekday() not in self.days:
            return None
        start = _instant(day, start_time, self._zone)
        end = _instant(day + timedelta(days=span), end_time, self._zone)
        return (start, end) if end > start else None

    def _candidates(self, when: datetime, before: int, after: int) -> list[tuple[datetime, datetime]]:
        if self.days is None:
            return [(self.start.astimezone(UTC), self.end.astimezone(UTC))]
        today = when.astimezone(self._zone).date()
        found = []
        for offset in range(-before, after + 1):
            window = self._on(today + timedelta(days=offset))
            if window is not None:
                found.append(window)
        return found

    def window_at(self, when: datetime) -> tuple[datetime, datetime] | None:
        """The window ``[start, end)`` that contains ``when``, or ``None`` outside every window."""
        span = self._daily_parts()[2]
        for start, end in self._candidates(when, span + 1, 0):
            if start <= when < end:
                return start, end
        return None

    def next_edge(self, when: datetime) -> datetime | None:
        """The first window start, end or first judgement (start + 1 h) after ``when``."""
        edges = [edge for start, end in self._candidates(when, 8, 8) for edge in (start, end, start + HOUR) if edge > when]
        return min(edges, default=None)


def _instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of the local wall-clock time; a time in a spring-forward gap maps one hour on."""
    return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)


@dataclass
class AlarmState:
    """What the monitor knows of one alarm of one connection."""

    connection: str
    index: int
    rule: AlarmRule
    state: str = "inactive"
    """``inactive`` (outside its windows), ``watching`` (in a window, less than an hour observed),
    ``ok`` or ``raised``."""
    rate: float | None = None
    window: tuple[datetime, datetime] | None = None
    raised_at: datetime | None = None
    cleared_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "connectionId": self.connection,
            "alarm": self.index,
            "message": self.rule.message,
            "uplinkRateMinPerHour": self.rule.min_per_hour,
            "state": self.state,
            "raised": self.state == "raised",
            "uplinksLastHour": self.rate,
            "windowStart": iso(self.window[0] if self.window else None),
            "windowEnd": iso(self.window[1] if self.window else None),
            "raisedAt": iso(self.raised_at),
            "clearedAt": iso(self.cleared_at),
        }


class UplinkCounter:
    """Cumulative uplinks through one connection, robust to counters reset by a node restart."""

    def __init__(self) -> None:
        self.total = 0
        self._last: dict[str, int] = {}
        self.samples: deque[tuple[datetime, int]] = deque()

    def update(self, counts: Mapping[str, int], now: datetime) -> None:
        for node_id, value in counts.items():
            last = self._last.get(node_id, 0)
            self.total += value - last if value >= last else value
            self._last[node_id] = value
        for gone in set(self._last) - set(counts):
            del self._last[gone]
        self.samples.append((now, self.total))
        while len(self.samples) > 2 and self.samples[1][0] <= now - HOUR - timedelta(minutes=5):
            self.samples.popleft()

    def since(self, when: datetime) -> int:
        """Uplinks counted after ``when`` (from the last sample taken at or before it)."""
        base = self.samples[0][1] if self.samples else self.total
        for at, total in self.samples:
            if at > when:
                break
            base = total
        return self.total - base


class AlarmMonitor:
    """Evaluates every connection's alarms on the runtime clock; see the module docstring."""

    def __init__(
        self,
        clock: Clock,
        events: EventBus,
        rules: Callable[[], dict[str, list[AlarmRule]]],
        uplinks: Callable[[str], dict[str, int]],
        interval: float = 60.0,
        tick: Callable[[datetime], Awaitable[None]] | None = None,
    ) -> None:
        self.clock = clock
        self.events = events
        self.rules = rules
        """Connection id -> its alarm rules (read at every evaluation)."""
        self.uplinks = uplinks
        """Connection id -> {source node id: messages sent so far}."""
        self.interval = interval
        self.tick = tick
        """Also called at every wake (the connections' fail-over)."""
        self.states: dict[tuple[str, int], AlarmState] = {}
        self.history: deque[dict[str, Any]] = deque(maxlen=200)
        self._counters: dict[str, UplinkCounter] = {}
        self._since: dict[str, datetime] = {}
        self.running = False

    def changed(self) -> None:
        """Alarm definitions changed: judge them now (the next edges are picked up within ``interval``)."""
        self.evaluate()

    def evaluate(self, now: datetime | None = None) -> None:
        """Sample the counters and update every alarm's state (publishing raise/clear events)."""
        now = self.clock.now() if now is None else now
        rules = self.rules()
        seen: set[tuple[str, int]] = set()
        for connection, connection_rules in rules.items():
            counter = self._counters.setdefault(connection, UplinkCounter())
            self._since.setdefault(connection, now)
            counter.update(self.uplinks(connection), now)
            for index, rule in enumerate(connection_rules):
                key = (connection, index)
                seen.add(key)
                state = self.states.get(key)
                if state is None or state.rule != rule:
                    if state is not None and state.state == "raised":
                        self._clear(state, now, "alarm definition changed")
                    state = self.states[key] = AlarmState(connection, index, rule)
                self._judge(state, counter, now)
        for key in set(self.states) - seen:
            state = self.states.pop(key)
            if state.state == "raised":
                self._clear(state, now, "alarm removed")
        for connection in set(self._counters) - set(rules):
            del self._counters[connection]
            self._since.pop(connection, None)

    def _judge(self, state: AlarmState, counter: UplinkCounter, now: datetime) -> None:
        rule = state.rule
        window = rule.window_at(now)
        state.window = window
        if window is None:
            if state.state == "raised":
                self._clear(state, now, "window ended")
            state.state, state.rate = "inactive", None
            return
        observed_from = max(window[0], self._since[state.connection])
        if now - observed_from < HOUR:
            state.rate = counter.since(observed_from)
            if state.rate >= rule.min_per_hour:
                self._set_ok(state, now)
            elif state.state != "raised":
                state.state = "watching"
            return
        state.rate = counter.since(now - HOUR)
        if state.rate < rule.min_per_hour:
            if state.state != "raised":
                state.state, state.raised_at, state.cleared_at = "raised", now, None
                self._publish(state, "raised", now, f"{state.rate:g} uplink(s) in the last hour, below {rule.min_per_hour:g}")
        else:
            self._set_ok(state, now)

    def _set_ok(self, state: AlarmState, now: datetime) -> None:
        if state.state == "raised":
            self._clear(state, now, f"{state.rate:g} uplink(s) in the last hour")
        state.state = "ok"

    def _clear(self, state: AlarmState, now: datetime, reason: str) -> None:
        state.state, state.cleared_at = "ok", now
        self._publish(state, "cleared", now, reason)

    def _publish(self, state: AlarmState, kind: str, now: datetime, reason: str) -> None:
        event = {"type": "alarm", "event": kind, "connection": state.connection, "alarm": state.index,
                 "message": state.rule.message, "reason": reason, "uplinksLastHour": state.rate,
                 "uplinkRateMinPerHour": state.rule.min_per_hour, "time": now.isoformat()}
        self.history.append(event)
        self.events.publish(event)

    def for_connection(self, connection: str) -> list[dict[str, Any]]:
        return [s.to_json() for (c, _), s in sorted(self.states.items()) if c == connection]

    def to_json(self) -> list[dict[str, Any]]:
        return [s.to_json() for _, s in sorted(self.states.items())]

    def next_wake(self, now: datetime) -> datetime:
        wake = now + timedelta(seconds=self.interval)
        for connection, rules in self.rules().items():
            since = self._since.get(connection)
            for rule in rules:
                edge = rule.next_edge(now)
                if edge is not None:
                    wake = min(wake, edge)
                if since is not None and now < since + HOUR:
                    wake = min(wake, since + HOUR)
        return wake

    async def run(self) -> None:
        """Evaluate forever: every ``interval`` seconds and at each window edge (runtime clock)."""
        self.running = True
        try:
            while True:
                now = self.clock.now()
                self.evaluate(now)
                if self.tick is not None:
                    try:
                        await self.tick(now)
                    except Exception:  # the monitor must go on; the failure is logged
                        log.exception("periodic connection check failed")
                await self.clock.sleep_until(self.next_wake(now))
        finally:
            self.running = False
