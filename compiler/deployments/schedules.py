"""A deployment's `schedule` table checked as Prefect will check it.

`{ cron = "0 2 * * *", timezone = "Europe/Berlin" }`, `{ interval = 300 }` (seconds) or
`{ rrule = "FREQ=DAILY;BYHOUR=2" }`, with an optional IANA `timezone`. Cron, rrule and
timezone are validated by Prefect's own schedule models, so what passes here is what the
server accepts; Prefect is imported only for a project that declares a schedule.
"""

from __future__ import annotations

import math
from typing import Any

from compiler.diagnostics import did_you_mean
from compiler.model import Schedule

KINDS = ("cron", "interval", "rrule")
KEYS = (*KINDS, "timezone")
EXAMPLE = '`{ cron = "0 2 * * *", timezone = "Europe/Berlin" }`, `{ interval = 300 }` or `{ rrule = "FREQ=HOURLY" }`'

#: (the key a problem is about, what is wrong, how to fix it)
Problem = tuple[str | None, str, str]


def read_schedule(table: Any) -> tuple[Schedule | None, list[Problem]]:
    """The schedule `table` declares, or the problems that make it invalid."""
    if not isinstance(table, dict):
        return None, [(None, f"`schedule` must be a table, got {table!r}", f"write it as {EXAMPLE}")]
    problems: list[Problem] = [
        (key, f"unknown schedule key `{key}`",
         did_you_mean(key, KEYS) or "a schedule takes " + ", ".join(f"`{k}`" for k in KEYS))
        for key in sorted(table) if key not in KEYS
    ]
    kinds = [kind for kind in KINDS if kind in table]
    if len(kinds) != 1:
        what = "none" if not kinds else " and ".join(f"`{k}`" for k in kinds)
        problems.append((None, f"a schedule needs exactly one of `cron`, `interval`, `rrule`; it has {what}",
                         f"write it as {EXAMPLE}; declare another deployment for a second schedule"))
    timezone = table.get("timezone")
    if timezone is not None and not isinstance(timezone, str):
        problems.append(("timezone", f"`timezone` must be a string, got {timezone!r}", 'use an IANA name such as "Europe/Berlin"'))
    if problems:
        return None, problems
    kind = kinds[0]
    value = table[kind]
    problem = _kind_problem(kind, value) or _prefect_problem(kind, value, timezone)
    if problem:
        return None, [problem]
    return Schedule(**{kind: value}, timezone=timezone), []


def _kind_problem(kind: str, value: Any) -> Problem | None:
    if kind == "interval":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            return ("interval", f"`interval` must be a positive number of seconds, got {value!r}",
                    "write the seconds between runs, such as `interval = 300`")
    elif not isinstance(value, str):
        return (kind, f"`{kind}` must be a string, got {value!r}", f"write it as {EXAMPLE}")
    return None


def _prefect_problem(kind: str, value: Any, timezone: str | None) -> Problem | None:
    """What Prefect's schedule model says of this schedule, or None when it accepts it."""
    import datetime

    from pydantic import ValidationError
    from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule, RRuleSchedule

    try:
        if kind == "cron":
            CronSchedule(cron=value, timezone=timezone)
        elif kind == "rrule":
            RRuleSchedule(rrule=value, timezone=timezone)
        else:
            IntervalSchedule(interval=datetime.timedelta(seconds=value), timezone=timezone)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        message = str(first.get("ctx", {}).get("error") or first["msg"]).removeprefix("Value error, ")
        key = "timezone" if "timezone" in message.lower() else kind
        hint = ('use an IANA name such as "Europe/Berlin" or "UTC"' if key == "timezone" else
                {"cron": 'five fields: minute hour day-of-month month day-of-week, such as "0 2 * * *"',
                 "rrule": 'an RFC 5545 rule such as "FREQ=DAILY;BYHOUR=2;BYMINUTE=0"',
                 "interval": "a positive number of seconds"}[kind])
        return (key, message, hint)
    return None
