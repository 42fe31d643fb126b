"""Meters (DSP0263 5.17.3-5.17.7): usage derived from the state Events, never kept on the side.

A resource's usage is a step function of time read off its Events (cimi/store/events.py):
a Machine counts its vCPUs and memory while STARTED, a Volume its capacity and
a MachineImage its bytes while they exist (from their first Event to their
deletion). Integrated over a period it gives vCPU-hours and GiB-hours; so any
period can be computed again, after a restart or a year later, from the logs alone.
"""
import datetime
import json

from cimi import errors, registry, represent, store
from cimi.ops.resources import Created
from cimi.query.filter import parse_datetime
from cimi.store import events
from cimi.vocabulary import extension_uri, type_uri

GIB_IN_KIB = 1024 ** 2
# aspect name: (what it meters, the measure in the Events, the divisor to its units, when it counts, units, description)
ASPECTS = {
    "cpuHours": ("Machine", "cpu", 1, "STARTED", "vCPU-hours", "vCPUs of the Machines while STARTED"),
    "memoryGiBHours": ("Machine", "memory", GIB_IN_KIB, "STARTED", "GiB-hours", "memory of the Machines while STARTED"),
    "volumeGiBHours": ("Volume", "capacity", GIB_IN_KIB, None, "GiB-hours", "capacity of the Volumes while they exist"),
    "imageGiBHours": ("MachineImage", "bytes", 1024 ** 3, None, "GiB-hours",
                      "bytes of the MachineImages while they exist"),
}
DURATIONS = {"PT1H": "hourly", "P1D": "daily", "P7D": "weekly", "P1M": "monthly", "P1Y": "yearly"}
MAX_SAMPLES = 10000


def aspect_uri(name):
    return extension_uri(f"aspect:{name}")


def aspect_name(uri):
    name = (uri or "").rsplit(":", 1)[-1]
    if aspect_uri(name) != uri or name not in ASPECTS:
        raise errors.BadRequest(f"unknown aspect {uri!r}; this provider meters {', '.join(map(aspect_uri, ASPECTS))}")
    return name


# --- the provider's configurations and templates ------------------------------------------------

def seed():
    """Once per store: a MeterConfiguration (hourly samples) and a MeterTemplate per aspect."""
    if store.exists("MeterConfiguration"):
        return
    for name, (kind_name, _, _, _, units, description) in ASPECTS.items():
        config = store.insert("MeterConfiguration", {"name": name, "description": description, "data": {
            "associatedTo": [{"href": type_uri(kind_name)}, {"href": type_uri("EventLog")}],
            "aspect": aspect_uri(name), "units": units, "sampleInterval": 3600, "timeScope": "Interval",
            "intervalDuration": "PT1H", "isContinuous": False}})
        store.insert("MeterTemplate", {"name": name, "description": description,
                                       "data": {"meterConfig": {"href": f"meterConfigs/{config['id']}"}}})


# --- Meters -----------------------------------------------------------------------------------

def prepare(ctx, body, parent):
    """The create hook of Meter: its target (a metered resource or a user's EventLog) and its configuration's values."""
    template = body["meterTemplate"]
    if "href" in template:
        template = {**represent.resolve(ctx, template["href"], "MeterTemplate")[1]["data"],
                    **{k: v for k, v in template.items() if k != "href"}}
    config = template.get("meterConfig")
    if not config:
        raise errors.BadRequest("meterTemplate needs a meterConfig")
    if "href" in config:
        config = {**represent.resolve(ctx, config["href"], "MeterConfiguration")[1]["data"],
                  **{k: v for k, v in config.items() if k != "href"}}
    name = aspect_name(config.get("aspect"))
    target = (template.get("targetResource") or {}).get("href")
    if not target:
        raise errors.BadRequest("meterTemplate needs a targetResource: a resource, or a user's EventLog")
    kind, row = represent.resolve(ctx, target, (ASPECTS[name][0], "EventLog"))
    if kind.name == "EventLog" and row["data"].get("targetResource"):
        raise errors.BadRequest("an EventLog target meters an owner: use the resource itself, not its log")
    data = {k: config[k] for k in ("aspect", "units", "sampleInterval", "timeScope", "intervalDuration", "isContinuous")
            if k in config}
    if data.get("timeScope") == "Interval" and data.get("intervalDuration") not in DURATIONS:
        raise errors.BadRequest(f"timeScope Interval needs an intervalDuration among {', '.join(DURATIONS)}")
    if data.get("timeScope") == "Point" and not data.get("sampleInterval"):
        raise errors.BadRequest("timeScope Point needs a sampleInterval (seconds)")
    data["targetResource"] = {"href": represent.href(ctx, kind, row)}
    data["_log"] = row["id"]
    data["_periods"] = [[None, None]]        # recording: all the history its Events tell, until a stop
    if body.get("expiresTime"):
        expires = _instant(body["expiresTime"])
        if expires <= _now():
            raise errors.BadRequest("expiresTime is in the past")
        data["expiresTime"] = represent.iso(expires)
    return Created({"data": data})


# --- start and stop: the times a Meter records -------------------------------------------------

def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)


def recording(row):
    return row["data"].get("_periods", [[None, None]])[-1][1] is None


def stopped(row):
    return not recording(row)


def stop(ctx, row, params):
    """Stop recording: no samples after now (stopTime) until a start."""
    periods = [list(p) for p in row["data"].get("_periods", [[None, None]])]
    now = represent.iso(_now())
    periods[-1][1] = now
    store.update("Meter", row["id"], {"data": {**row["data"], "_periods": periods, "stopTime": now}}, touch=True)


def start(ctx, row, params):
    """Record again from now on; the time it was stopped keeps no samples."""
    data = {k: v for k, v in row["data"].items() if k != "stopTime"}
    data["_periods"] = [*row["data"].get("_periods", []), [represent.iso(_now()), None]]
    store.update("Meter", row["id"], {"data": data}, touch=True)


def _periods(row):
    """The [low, high) instants a Meter recorded (None: unbounded)."""
    return [(_instant(low) if low else datetime.datetime.min, _instant(high) if high else datetime.datetime.max)
            for low, high in row["data"].get("_periods", [[None, None]])]


def expire(cloud, now=None):
    """Delete the Meters whose expiresTime has passed (DSP0263: the Meter is not monitored anymore); return how many."""
    now = represent.iso(now or _now())
    gone = 0
    for row in store.rows("Meter"):
        if row["data"].get("expiresTime") and row["data"]["expiresTime"] <= now:
            store.delete("Meter", row["id"])
            gone += 1
    return gone


def samples(ctx, row, params):
    """The SampleCollection of a Meter over ?from=&to= (default: from its creation to now), as JSON text.

    Interval: one Sample per intervalDuration, its timestamp the interval's end and its
    value what was used in it; Point: one every sampleInterval seconds, the size then.
    """
    data = row["data"]
    start, end = period(params, row["created"])
    history = _history(data["_log"], end)
    name = aspect_name(data["aspect"])
    found, periods = [], _periods(row)
    if data.get("timeScope") == "Point":
        step = datetime.timedelta(seconds=data["sampleInterval"])
        moment = start
        while moment <= end and len(found) < MAX_SAMPLES:
            if any(low <= moment < high for low, high in periods):
                found.append((moment, _number(level(history, name, moment))))
            moment += step
    else:
        for low, high in buckets(start, end, data.get("intervalDuration", "PT1H")):
            parts = [(max(low, a), min(high, b)) for a, b in periods if max(low, a) < min(high, b)]
            if parts:                                   # an interval the Meter did not record has no Sample
                found.append((high, _number(sum(used(history, name, a, b) for a, b in parts))))
    href = represent.href(ctx, registry.get("Meter"), row) + "/samples"
    doc = {"resourceURI": type_uri("SampleCollection"), "id": href, "count": len(found),
           "samples": [{"timestamp": represent.iso(at), "value": value} for at, value in found]}
    return json.dumps(doc)


# --- usage over a period -------------------------------------------------------------------------

def usage(ctx, row, params):
    """What an EventLog's resources used over ?from=&to= (default: the last 30 days), per aspect, as JSON text."""
    start, end = period(params, None)
    history = _history(row["id"], end)
    figures = {name: _number(used(history, name, start, end)) for name in ASPECTS}
    owner = row["name"].removeprefix("user:") if (row["name"] or "").startswith("user:") else None
    return json.dumps({"eventLog": represent.href(ctx, registry.get("EventLog"), row), "user": owner,
                       "from": represent.iso(start), "to": represent.iso(end),
                       "units": {name: ASPECTS[name][4] for name in ASPECTS}, "usage": figures})


def period(params, default_start):
    """(from, to) of a request's ?from=&to= (ISO 8601), naive UTC; to defaults to now, from to default_start."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)
    try:
        end = _instant(params.get("to")) if params.get("to") else now
        start = _instant(params.get("from")) if params.get("from") else (default_start or end - datetime.timedelta(30))
    except ValueError as exc:
        raise errors.BadRequest(f"from and to are ISO 8601 instants ({exc})") from None
    if start > end:
        raise errors.BadRequest("from is after to")
    return start, end


def _instant(text):
    moment = parse_datetime(str(text))
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment


def _history(log_id, until):
    """{resource href: [(instant, state or None once deleted, measures)]} from a log's Events up to `until`."""
    history = {}
    for event in events.history(log_id, until):
        content = event["content"]
        href = (content.get("resource") or {}).get("href")
        kind = (content.get("resType") or "").rsplit("/", 1)[-1]
        if not href:
            continue
        state = None if content.get("change") == "delete" else content.get("state")
        at = _instant(event["timestamp"])
        steps = history.setdefault((kind, href), [])
        measures = content.get("measures") or (steps[-1][2] if steps else {})
        steps.append((at, state, measures))
    return history


def _amount(kind, name, state, measures):
    """The size counted at one step (0 when not counted)."""
    metered, measure, divisor, counted_state, _, _ = ASPECTS[name]
    if kind != metered or state is None or (counted_state and state != counted_state):
        return 0.0
    return (measures.get(measure) or 0) / divisor


def used(history, name, start, end):
    """The integral over [start, end) of the aspect's size, in its units times hours."""
    total = 0.0
    for (kind, _), steps in history.items():
        for (at, state, measures), following in zip(steps, steps[1:] + [(end, None, {})]):
            low, high = max(at, start), min(following[0], end)
            if high > low:
                total += _amount(kind, name, state, measures) * (high - low).total_seconds() / 3600
    return total


def level(history, name, moment):
    """The aspect's size at an instant (the sum over the resources)."""
    total = 0.0
    for (kind, _), steps in history.items():
        current = [step for step in steps if step[0] <= moment]
        if current:
            total += _amount(kind, name, current[-1][1], current[-1][2])
    return total


def buckets(start, end, duration):
    """The [low, high) intervals of an intervalDuration that meet [start, end], clipped to it."""
    low, found = _floor(start, duration), []
    while low < end and len(found) < MAX_SAMPLES:
        high = _next(low, duration)
        found.append((max(low, start), min(high, end)))
        low = high
    return found


def _floor(moment, duration):
    if duration == "PT1H":
        return moment.replace(minute=0, second=0)
    day = moment.replace(hour=0, minute=0, second=0)
    if duration == "P1D":
        return day
    if duration == "P7D":
        return day - datetime.timedelta(days=day.weekday())
    if duration == "P1M":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def _next(moment, duration):
    if duration in ("PT1H", "P1D", "P7D"):
        return moment + {"PT1H": datetime.timedelta(hours=1), "P1D": datetime.timedelta(days=1),
                         "P7D": datetime.timedelta(days=7)}[duration]
    if duration == "P1M":
        year, month = divmod(moment.month, 12)
        return moment.replace(year=moment.year + year, month=month + 1)
    return moment.replace(year=moment.year + 1)


def _number(value):
    """A figure as Sample values are: a string, six decimals at most."""
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"

