"""Generate the recurrence-expansion reference fixture for calsync.

Reads the hand-written cases in scripts/recurrence-reference/cases.json (events in
calsync's own model: start/end, RFC 5545 recurrence lines, per-instance
exceptions and a UTC query window), turns each case into a VCALENDAR, expands
it with the Python library ``recurring-ical-events`` (an implementation
independent of calsync) and writes every case, copied through unchanged, plus
its ``expected`` occurrences to crates/calsync-core/tests/fixtures/recurrence.json.

Occurrences overlapping [window.start, window.end) are listed, sorted by start:
all-day ones as "YYYY-MM-DD" dates (end exclusive), timed ones as UTC instants
"YYYY-MM-DDTHH:MM:SSZ". Cancelled exceptions are emitted as override VEVENTs
with STATUS:CANCELLED; recurring-ical-events returns those as occurrences, so
they are filtered out here (and cross-checked against the same case written
with EXDATEs instead).

Time zones come from the pinned ``tzdata`` package, never from the system's
/usr/share/zoneinfo, so output does not depend on the machine.

Rerun from the repository root (output is deterministic, byte for byte):

    python3 -m venv /tmp/recref-venv
    /tmp/recref-venv/bin/pip install -r scripts/recurrence-reference/requirements.txt
    /tmp/recref-venv/bin/python3 scripts/recurrence-reference/generate.py
"""

import zoneinfo

# Before anything creates a ZoneInfo: resolve zones from the pinned tzdata
# package only, not from the operating system's database.
zoneinfo.reset_tzpath(to=())

import copy  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from importlib.metadata import version  # noqa: E402
from pathlib import Path  # noqa: E402

import icalendar  # noqa: E402
import recurring_ical_events  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
CASES_PATH = REPO_ROOT / "scripts" / "recurrence-reference" / "cases.json"
OUTPUT_PATH = REPO_ROOT / "crates" / "calsync-core" / "tests" / "fixtures" / "recurrence.json"

UTC = datetime.timezone.utc


class CaseError(Exception):
    pass


# ---------------------------------------------------------------------------
# input validation / parsing


def check_keys(obj, required, optional, where):
    if not isinstance(obj, dict):
        raise CaseError(f"{where}: expected an object")
    missing = set(required) - obj.keys()
    unknown = obj.keys() - set(required) - set(optional)
    if missing:
        raise CaseError(f"{where}: missing keys {sorted(missing)}")
    if unknown:
        raise CaseError(f"{where}: unknown keys {sorted(unknown)}")


def time_kind(t, where):
    """Return 'date' or 'date_time' after validating an event time object."""
    if isinstance(t, dict) and "date" in t:
        check_keys(t, ["date"], [], where)
        datetime.date.fromisoformat(t["date"])
        return "date"
    check_keys(t, ["date_time", "time_zone"], [], where)
    naive = datetime.datetime.fromisoformat(t["date_time"])
    if naive.tzinfo is not None or len(t["date_time"]) != 19:
        raise CaseError(f"{where}: date_time must be civil 'YYYY-MM-DDTHH:MM:SS'")
    if t["time_zone"] != "UTC":
        zoneinfo.ZoneInfo(t["time_zone"])  # raises for unknown zones
    return "date_time"


def parse_window_instant(s, where):
    if not s.endswith("Z") or len(s) != 20:
        raise CaseError(f"{where}: expected 'YYYY-MM-DDTHH:MM:SSZ', got {s!r}")
    return datetime.datetime.fromisoformat(s[:-1]).replace(tzinfo=UTC)


def validate_case(case):
    name = case.get("name", "<unnamed>")
    check_keys(case, ["name", "note", "event", "exceptions", "window"], [], name)
    event = case["event"]
    check_keys(event, ["start", "end", "recurrence"], [], f"{name}.event")
    kind = time_kind(event["start"], f"{name}.event.start")
    if time_kind(event["end"], f"{name}.event.end") != kind:
        raise CaseError(f"{name}: start and end must be of the same kind")
    for line in event["recurrence"]:
        if not line.split(":", 1)[0].split(";", 1)[0] in ("RRULE", "RDATE", "EXDATE"):
            raise CaseError(f"{name}: unexpected recurrence line {line!r}")
    for i, exc in enumerate(case["exceptions"]):
        where = f"{name}.exceptions[{i}]"
        check_keys(exc, ["original_start", "status"], ["start", "end"], where)
        if time_kind(exc["original_start"], f"{where}.original_start") != kind:
            raise CaseError(f"{where}: original_start must match the series start kind")
        if exc["status"] not in ("confirmed", "cancelled"):
            raise CaseError(f"{where}: bad status {exc['status']!r}")
        if exc["status"] == "confirmed" and not ("start" in exc and "end" in exc):
            raise CaseError(f"{where}: confirmed exception needs start and end")
        if ("start" in exc) != ("end" in exc):
            raise CaseError(f"{where}: give both start and end or neither")
        if "start" in exc:
            if time_kind(exc["start"], f"{where}.start") != time_kind(exc["end"], f"{where}.end"):
                raise CaseError(f"{where}: start and end must be of the same kind")
    check_keys(case["window"], ["start", "end"], [], f"{name}.window")
    ws = parse_window_instant(case["window"]["start"], f"{name}.window.start")
    we = parse_window_instant(case["window"]["end"], f"{name}.window.end")
    if not ws < we:
        raise CaseError(f"{name}: window.start must be before window.end")
    return kind, ws, we


# ---------------------------------------------------------------------------
# case -> VCALENDAR


def ical_time_property(prop, t):
    """Render DTSTART/DTEND/RECURRENCE-ID for an event time object."""
    if "date" in t:
        return f"{prop};VALUE=DATE:{t['date'].replace('-', '')}"
    local = datetime.datetime.fromisoformat(t["date_time"]).strftime("%Y%m%dT%H%M%S")
    if t["time_zone"] == "UTC":
        return f"{prop}:{local}Z"
    return f"{prop};TZID={t['time_zone']}:{local}"


def ical_exdate_for(t):
    """An EXDATE line removing the instance with the given original start."""
    return ical_time_property("EXDATE", t)


def build_calendar(case, cancelled_as_exdate=False):
    uid = f"{case['name']}@calsync-recurrence-reference"
    stamp = "DTSTAMP:20260101T000000Z"
    event = case["event"]
    master = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        stamp,
        ical_time_property("DTSTART", event["start"]),
        ical_time_property("DTEND", event["end"]),
        *event["recurrence"],
    ]
    overrides = []
    for exc in case["exceptions"]:
        if exc["status"] == "cancelled" and cancelled_as_exdate:
            master.append(ical_exdate_for(exc["original_start"]))
            continue
        lines = [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            stamp,
            ical_time_property("RECURRENCE-ID", exc["original_start"]),
            ical_time_property("DTSTART", exc.get("start", exc["original_start"])),
        ]
        if "end" in exc:
            lines.append(ical_time_property("DTEND", exc["end"]))
        lines.append("STATUS:CANCELLED" if exc["status"] == "cancelled" else "STATUS:CONFIRMED")
        lines.append("END:VEVENT")
        overrides.extend(lines)
    master.append("END:VEVENT")
    text = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//calsync//recurrence-reference//EN",
            *master,
            *overrides,
            "END:VCALENDAR",
            "",
        ]
    )
    return icalendar.Calendar.from_ical(text)


# ---------------------------------------------------------------------------
# expansion


def is_date(v):
    return isinstance(v, datetime.date) and not isinstance(v, datetime.datetime)


def as_utc_instant(v):
    """Window-comparison instant: dates are UTC midnight."""
    if is_date(v):
        return datetime.datetime(v.year, v.month, v.day, tzinfo=UTC)
    if v.tzinfo is None:
        raise CaseError(f"floating time {v!r} in output")
    return v.astimezone(UTC)


def render(v):
    if is_date(v):
        return v.isoformat()
    return as_utc_instant(v).strftime("%Y-%m-%dT%H:%M:%SZ")


def expand(case, ws, we, cancelled_as_exdate=False):
    cal = build_calendar(case, cancelled_as_exdate)
    occurrences = []
    for component in recurring_ical_events.of(cal).between(ws, we):
        if str(component.get("STATUS", "")).upper() == "CANCELLED":
            continue
        start = component["DTSTART"].dt
        end = component["DTEND"].dt
        s, e = as_utc_instant(start), as_utc_instant(end)
        # Self-check: the library's span test must agree with the fixture's
        # definition of overlap (starts before window end, ends after start).
        if not (s < we and e > ws):
            raise CaseError(
                f"{case['name']}: library returned {render(start)}..{render(end)}"
                " which does not overlap the window"
            )
        occurrences.append((s, e, {"start": render(start), "end": render(end)}))
    occurrences.sort(key=lambda o: (o[0], o[1]))
    result = [o[2] for o in occurrences]
    for a, b in zip(result, result[1:]):
        if a == b:
            raise CaseError(f"{case['name']}: duplicate occurrence {a}")
    return result


def main():
    with open(CASES_PATH, encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    names = [c["name"] for c in cases]
    if len(set(names)) != len(names):
        raise CaseError("case names must be unique")

    out_cases = []
    for case in cases:
        _kind, ws, we = validate_case(case)
        expected = expand(case, ws, we)
        if any(e["status"] == "cancelled" for e in case["exceptions"]):
            via_exdate = expand(case, ws, we, cancelled_as_exdate=True)
            if via_exdate != expected:
                raise CaseError(
                    f"{case['name']}: STATUS:CANCELLED overrides and EXDATEs disagree"
                )
        if len(expected) > 60:
            raise CaseError(f"{case['name']}: {len(expected)} occurrences, keep it <= 60")
        out = copy.deepcopy(case)
        out["expected"] = expected
        out_cases.append(out)

    document = {
        "generated_by": (
            f"recurring-ical-events {version('recurring-ical-events')}, "
            f"icalendar {version('icalendar')}, tzdata {version('tzdata')}"
        ),
        "cases": out_cases,
    }
    text = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    OUTPUT_PATH.parent.mkdir(parents=True, exist_ok=True)
    with open(OUTPUT_PATH, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print(f"wrote {len(out_cases)} cases to {OUTPUT_PATH.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    try:
        main()
    except CaseError as exc:
        sys.exit(f"error: {exc}")
