"""Meters (DSP0263 5.17.3-5.17.7): usage derived from the state Events, recomputed alike after a restart.

The provider seeds a MeterConfiguration and a MeterTemplate per aspect
(cpu-hours, memory, volume and image GiB-hours); a Meter of a resource or of
a user's EventLog samples them per intervalDuration (or per sampleInterval
for timeScope Point); an EventLog's usage view sums a period. On SQLite and
PostgreSQL.
"""
import datetime
import time

import pytest
from falcon import testing

from cimi import auth
from cimi.http.app import create_app
from cimi.store import events
from tests.api.test_store import database_url, make_cloud  # noqa: F401 (fixture)
from tests.api.test_xml_schema import check, volume_body, xsd  # noqa: F401 (fixture)
from tests.conftest import XML, Client, machine_body

EXT = "urn:darn-simple-cloud:cimi:aspect:"
CIMI = "http://schemas.dmtf.org/cimi/1"


def clients_of(cloud):
    app = testing.TestClient(create_app(cloud))
    return Client(app, "admin", "admin-pw"), Client(app, "alice", "alice-pw"), Client(app, "bob", "bob-pw")


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def started_seconds(client, machine):
    """Seconds the Machine was STARTED, read off its own Events."""
    found = client.get(machine["eventLog"]["href"] + "/events").json["events"]
    at = [datetime.datetime.fromisoformat(e["timestamp"].rstrip("Z")) for e in found]
    states = [e["content"].get("state") for e in found]
    return sum((at[i + 1] - at[i]).total_seconds() for i in range(len(at) - 1) if states[i] == "STARTED")


def config_href(client, aspect):
    configs = client.get(client.cep()["meterConfigs"]["href"]).json["meterConfigurations"]
    return next(c["id"] for c in configs if c["aspect"] == EXT + aspect)


def test_usage_is_derived_from_events_and_recomputed_alike_after_a_restart(tmp_path, database_url,  # noqa: F811
                                                                            monkeypatch):
    cloud = make_cloud(tmp_path, database_url, monkeypatch)
    auth.add_user("alice", "alice-pw")
    auth.add_user("bob", "bob-pw")
    try:
        admin, alice, bob = clients_of(cloud)
        begin = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)
        _, machine = alice.create("machines", machine_body(alice, "metered"))
        _, volume = alice.create("volumes", volume_body("disk", capacity=2 * 1024 * 1024))
        time.sleep(2.2)
        machine = alice.act(machine, "stop")
        time.sleep(1.1)
        end = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)
        period = f"?from={iso(begin - datetime.timedelta(minutes=1))}&to={iso(end)}"
        # a Meter of the Machine, made from the provider's template (by value, with its targetResource)
        made = alice.post(alice.cep()["meters"]["href"], {"meterTemplate": {
            "targetResource": {"href": machine["id"]}, "meterConfig": {"href": config_href(alice, "cpuHours")}}})
        assert made.status_code == 201, made.text
        meter = made.json
        assert (meter["timeScope"], meter["intervalDuration"], meter["units"]) == ("Interval", "PT1H", "vCPU-hours")
        samples = alice.get(meter["samples"]["href"] + period)
        assert samples.status_code == 200, samples.text
        cpu_hours = sum(float(s["value"]) for s in samples.json["samples"])
        expected = machine["cpu"] * started_seconds(alice, machine) / 3600
        assert expected > 0 and cpu_hours == pytest.approx(expected, abs=1e-6)
        assert all(s["timestamp"].endswith(("00:00Z", iso(end)[-6:])) for s in samples.json["samples"])
        # the owner's usage: every aspect over the period
        log = f"/cimi/eventLogs/{events.user_log('alice')}"
        usage = alice.get(log + "/usage" + period).json
        assert float(usage["usage"]["cpuHours"]) == pytest.approx(expected, abs=1e-6)
        assert float(usage["usage"]["memoryGiBHours"]) == pytest.approx(
            machine["memory"] / 1024 ** 2 * started_seconds(alice, machine) / 3600, abs=1e-6)
        assert float(usage["usage"]["volumeGiBHours"]) > 2 * 3 / 3600 - 1e-6
        assert bob.get(log + "/usage").status_code == 404
        assert bob.get(meter["id"]).status_code == 404
        before = (usage, samples.json["samples"])
    finally:
        cloud.close()
    cloud = make_cloud(tmp_path, database_url, monkeypatch)      # restart: nothing but the Events is read
    try:
        _, alice, _ = clients_of(cloud)
        after = (alice.get(log + "/usage" + period).json, alice.get(meter["samples"]["href"] + period).json["samples"])
        assert after == before
    finally:
        cloud.close()


@pytest.fixture
def cloud(tmp_path, monkeypatch):
    cloud = make_cloud(tmp_path, f"sqlite:///{tmp_path / 'm.sqlite3'}", monkeypatch)
    auth.add_user("alice", "alice-pw")
    auth.add_user("bob", "bob-pw")
    yield cloud
    cloud.close()


def test_the_provider_seeds_a_configuration_and_a_template_per_aspect(cloud, xsd):  # noqa: F811
    admin, alice, _ = clients_of(cloud)
    configs = alice.get(alice.cep()["meterConfigs"]["href"]).json["meterConfigurations"]
    assert sorted(c["aspect"].removeprefix(EXT) for c in configs) == \
        ["cpuHours", "imageGiBHours", "memoryGiBHours", "volumeGiBHours"]
    templates = alice.get(alice.cep()["meterTemplates"]["href"]).json["meterTemplates"]
    assert len(templates) == 4
    for key in ("meterConfigs", "meterTemplates", "meters"):
        check(xsd, alice.get(alice.cep()[key]["href"], accept=XML), "Collection")
    check(xsd, alice.get(configs[0]["id"], accept=XML), "MeterConfiguration")
    check(xsd, alice.get(templates[0]["id"], accept=XML), "MeterTemplate")
    # alice cannot add or change the provider's configurations
    assert alice.post(alice.cep()["meterConfigs"]["href"], {"aspect": EXT + "cpuHours", "units": "x",
                                                            "timeScope": "Point"}).status_code == 403


def test_a_meter_of_an_owner_samples_points_and_validates_as_xml(cloud, xsd):  # noqa: F811
    _, alice, _ = clients_of(cloud)
    alice.create("volumes", volume_body("v", capacity=1024 * 1024))
    log = f"{alice.cep()['eventLogs']['href']}/{events.user_log('alice')}"
    made = alice.post(alice.cep()["meters"]["href"], {"meterTemplate": {"targetResource": {"href": log},
        "meterConfig": {"aspect": EXT + "volumeGiBHours", "units": "GiB", "timeScope": "Point", "sampleInterval": 1}}})
    assert made.status_code == 201, made.text
    check(xsd, alice.get(made.json["id"], accept=XML), "Meter")
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)
    points = alice.get(made.json["samples"]["href"] + f"?from={iso(now - datetime.timedelta(seconds=2))}"
                       f"&to={iso(now)}").json
    assert points["count"] == 3 and float(points["samples"][-1]["value"]) == 1.0


@pytest.mark.parametrize("template, status", [
    ({"meterConfig": {"aspect": EXT + "nothing", "units": "x", "timeScope": "Point", "sampleInterval": 1}}, 400),
    ({"meterConfig": {"aspect": EXT + "cpuHours", "units": "x", "timeScope": "Interval", "intervalDuration": "PT2H"}},
     400),
    ({"meterConfig": {"aspect": EXT + "cpuHours", "units": "x", "timeScope": "Point"}}, 400),
])
def test_bad_meters_are_refused_and_nothing_is_made(cloud, template, status):
    _, alice, bob = clients_of(cloud)
    _, machine = alice.create("machines", machine_body(alice, "m"))
    meters = alice.cep()["meters"]["href"]
    resp = alice.post(meters, {"meterTemplate": {"targetResource": {"href": machine["id"]}, **template}})
    assert resp.status_code == status, resp.text
    theirs = bob.post(meters, {"meterTemplate": {"targetResource": {"href": machine["id"]},
                                                 "meterConfig": {"href": config_href(bob, "cpuHours")}}})
    assert theirs.status_code == 404
    volume_config = config_href(alice, "volumeGiBHours")
    volume_meter = alice.post(meters, {"meterTemplate": {"targetResource": {"href": machine["id"]},
                                                         "meterConfig": {"href": volume_config}}})
    assert volume_meter.status_code == 400
    assert alice.get(meters).json["count"] == 0
    assert alice.get(f"/cimi/eventLogs/{events.user_log('alice')}/usage?from=2030-01-01T00:00:00Z"
                     "&to=2029-01-01T00:00:00Z").status_code == 400


def test_a_stopped_meter_samples_nothing_until_it_starts_again(cloud, xsd):  # noqa: F811
    """DSP0263 5.17.3.2: stop ends the recording (stopTime), start resumes it; the stopped time has no Sample."""
    _, alice, bob = clients_of(cloud)
    alice.create("volumes", volume_body("v", capacity=1024 * 1024))
    log = f"{alice.cep()['eventLogs']['href']}/{events.user_log('alice')}"
    meter = alice.post(alice.cep()["meters"]["href"], {"meterTemplate": {"targetResource": {"href": log},
        "meterConfig": {"aspect": EXT + "volumeGiBHours", "units": "GiB", "timeScope": "Point", "sampleInterval": 1}}}
    ).json
    ops = {op["rel"].rsplit("/", 1)[-1]: op["href"] for op in meter["operations"]}
    assert "stop" in ops and "start" not in ops and "stopTime" not in meter
    assert bob.post(ops["stop"], {"action": f"{CIMI}/action/stop"}).status_code == 404
    stopped = alice.post(ops["stop"], {"action": f"{CIMI}/action/stop"})
    assert stopped.status_code in (200, 204), stopped.text
    meter = alice.get(meter["id"]).json
    ops = {op["rel"].rsplit("/", 1)[-1]: op["href"] for op in meter["operations"]}
    assert meter["stopTime"] and "start" in ops and "stop" not in ops
    check(xsd, alice.get(meter["id"], accept=XML), "Meter")
    assert alice.post(meter["id"] + "/stop", {"action": f"{CIMI}/action/stop"}).status_code == 409   # stopped already
    time.sleep(2.2)
    assert alice.post(ops["start"], {"action": f"{CIMI}/action/start"}).status_code in (200, 204)
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)
    stop = datetime.datetime.strptime(meter["stopTime"], "%Y-%m-%dT%H:%M:%SZ")
    points = alice.get(meter["samples"]["href"] + f"?from={iso(stop - datetime.timedelta(seconds=1))}&to={iso(now)}"
                       ).json["samples"]
    moments = [p["timestamp"] for p in points]
    assert iso(stop - datetime.timedelta(seconds=1)) in moments and iso(now) in moments
    assert not [m for m in moments if iso(stop) <= m < iso(now - datetime.timedelta(seconds=1))]   # the gap
    assert "stopTime" not in alice.get(meter["id"]).json


def test_a_meter_goes_at_its_expires_time(cloud):
    from cimi.ops import meters
    _, alice, _ = clients_of(cloud)
    _, machine = alice.create("machines", machine_body(alice, "m"))
    body = {"meterTemplate": {"targetResource": {"href": machine["id"]}, "meterConfig": {
        "href": config_href(alice, "cpuHours")}}}
    href = alice.cep()["meters"]["href"]
    assert alice.post(href, {**body, "expiresTime": "2020-01-01T00:00:00Z"}).status_code == 400     # the past
    meter = alice.post(href, {**body, "expiresTime": "2099-01-01T00:00:00Z"}).json
    assert meter["expiresTime"] == "2099-01-01T00:00:00Z"
    edited = alice.put(meter["id"] + "?$select=expiresTime", {"expiresTime": "2098-06-01T00:00:00Z"})
    assert edited.status_code == 200 and edited.json["expiresTime"] == "2098-06-01T00:00:00Z", edited.text
    assert alice.put(meter["id"] + "?$select=expiresTime", {"expiresTime": "soon"}).status_code == 400
    assert meters.expire(cloud, datetime.datetime(2098, 5, 31)) == 0
    assert meters.expire(cloud, datetime.datetime(2098, 6, 1)) == 1
    assert alice.get(meter["id"]).status_code == 404
