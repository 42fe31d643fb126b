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
