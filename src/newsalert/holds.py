"""When a subscriber's alert may go out: at once, after quiet hours, or with a digest.

Quiet hours ("22:00-07:00 Europe/Belgrade") may cross midnight; times are wall-clock
times in the zone, so they follow DST. All arithmetic is done on aware datetimes
converted to UTC before comparing (comparing two datetimes of one zone compares
wall times, which is wrong across a DST change).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from newsalert.config import SubscriberConfig


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _at(day: date, when: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall time (a time skipped by DST moves forward)."""
    return datetime.combine(day, when, zone).astimezone(UTC)


def parse_quiet_hours(spec: str, default_zone: str = "UTC") -> tuple[time, time, ZoneInfo]:
    window, _, zone = spec.strip().partition(" ")
    start, _, end = window.partition("-")
    return _clock(start), _clock(end), ZoneInfo(zone.strip() or default_zone)


def quiet_until(spec: str, now: datetime, default_zone: str = "UTC") -> datetime | None:
    """The end of the quiet period ``now`` falls in, or None when it is not quiet."""
    start, end, zone = parse_quiet_hours(spec, default_zone)
    if start == end:
        return None
    local_day = now.astimezone(zone).date()
    for offset in (-1, 0):
        day = local_day + timedelta(days=offset)
        begins = _at(day, start, zone)
        ends = _at(day + timedelta(days=1) if end <= start else day, end, zone)
        if begins <= now < ends:
            return ends
    return None


def next_digest(kind: str, now: datetime, at: str = "08:00", zone_name: str = "UTC") -> datetime:
    """The next digest time after ``now``: the next full hour, or ``at`` local time daily."""
    if kind == "hourly":
        return (now.astimezone(UTC) + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    zone = ZoneInfo(zone_name)
    day = now.astimezone(zone).date()
    when = _clock(at)
    candidate = _at(day, when, zone)
    return candidate if candidate > now else _at(day + timedelta(days=1), when, zone)


def release_time(sub: SubscriberConfig, score: float, now: datetime) -> datetime | None:
    """None: send now. Otherwise hold the alert until the returned time."""
    if sub.break_through is not None and score >= sub.break_through:
        return None
    release = next_digest(sub.digest, now, sub.digest_time, sub.timezone) if sub.digest else None
    if sub.quiet_hours:
        at = release or now
        quiet_end = quiet_until(sub.quiet_hours, at, sub.timezone)
        if quiet_end is not None:
            release = quiet_end
    return release
