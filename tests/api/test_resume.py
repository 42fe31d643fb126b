"""After a host restart: Machines the store holds STARTED are started again, or reported, at server start."""
import logging
import time

from falcon import testing

from cimi import naming
from cimi.http.app import create_app
from cimi.cloud import Cloud, Config
from tests.conftest import Client, machine_body


def restart_server(cloud, tmp_path, **config):
    """Stop the cloud's server and start another on its store and (test-driver) host."""
    cloud.close()
    again = Cloud(Config(data_dir=str(tmp_path / "var"), workers=1, reconcile_every=0, **config),
                  backend=cloud.backend)
    return again, Client(testing.TestClient(create_app(again)), "alice", "alice-pw")


def until(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)
    return predicate()


def test_running_machines_and_networks_are_autostarted_and_stopped_ones_not(alice, libvirt_conn):
    from tests.api.test_xml_schema import network_body
    _, machine = alice.create("machines", machine_body(alice))
    dom = libvirt_conn.lookupByName(naming.machine_name(machine["id"].rsplit("/", 1)[-1]))
    assert dom.autostart() == 1
    alice.act(machine, "stop")
    assert dom.autostart() == 0
    _, network = alice.create("networks", network_body("auto"))
    from cimi import store
    net = libvirt_conn.networkLookupByName(store.get("Network", network["id"].rsplit("/", 1)[-1])["data"]["_key"])
    assert network["state"] == "STARTED" and net.autostart() == 1
    alice.act(network, "stop")
    assert net.autostart() == 0


def shut_off_by_host_restart(alice, libvirt_conn):
    _, machine = alice.create("machines", machine_body(alice))
    dom = libvirt_conn.lookupByName(naming.machine_name(machine["id"].rsplit("/", 1)[-1]))
    dom.destroy()                                          # what a host restart leaves
    return machine, dom


def test_machines_a_host_restart_stopped_are_started_again(cloud, alice, libvirt_conn, tmp_path, caplog):
    machine, dom = shut_off_by_host_restart(alice, libvirt_conn)
    with caplog.at_level(logging.WARNING, logger="cimi.reconcile"):
        again, alice = restart_server(cloud, tmp_path)
        try:
            assert until(dom.isActive)
            assert alice.get(machine["id"]).json["state"] == "STARTED"
        finally:
            again.close()
    assert "shows it shut off: starting it again" in caplog.text


def test_report_policy_leaves_them_stopped_and_says_so(cloud, alice, libvirt_conn, tmp_path, caplog):
    machine, dom = shut_off_by_host_restart(alice, libvirt_conn)
    with caplog.at_level(logging.WARNING, logger="cimi.reconcile"):
        again, alice = restart_server(cloud, tmp_path, resume_on_start="report")
        try:
            assert until(lambda: alice.get(machine["id"]).json["state"] == "STOPPED")
            assert not dom.isActive()
        finally:
            again.close()
    assert f"Machine {machine['id'].rsplit('/', 1)[-1]}" in caplog.text and "left STOPPED" in caplog.text


def test_resume_option_and_environment(tmp_path, monkeypatch):
    from cimi import server
    seen = {}
    monkeypatch.setattr(server, "serve", lambda config: seen.setdefault("config", config) and 0)
    monkeypatch.setenv("CIMI_RESUME_ON_START", "report")
    monkeypatch.setenv("CIMI_STOP_TIMEOUT", "7")
    server.main(["--data-dir", str(tmp_path)])
    assert (seen["config"].resume_on_start, seen["config"].stop_timeout) == ("report", 7.0)
    seen.clear()
    server.main(["--data-dir", str(tmp_path), "--resume-on-start", "start", "--stop-timeout", "2.5"])
    assert (seen["config"].resume_on_start, seen["config"].stop_timeout) == ("start", 2.5)
