"""A Machine's addresses (ADDRESSES contract) in the CLI's tables, `machines ssh` and Libcloud's nodes.

The test driver leases nothing, so the leases are written into the store as the
server's lease poll writes them (static, so that reconciliation keeps them).
A provider without Address.resource links none: nothing is shown then.
"""
import os
import stat

import pytest
from libcloud.compute.providers import get_driver

import cimiclient.libcloud  # noqa: F401
from cimi import store

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3Gd7Nm0cqKJ1nNQp0Z3kq0l7m0X3bq9v1d2y3z4w5x alice@laptop"
IPS = ["192.168.201.5", "93.184.216.34"]


@pytest.fixture
def leased(run_json, client, tmp_path):
    """Machine web1 (made with a key for user deploy), with two addresses if the provider links them."""
    (tmp_path / "id.pub").write_text(KEY)
    machine = run_json("machines", "create", "web1", "--config", "small", "--image", "blank",
                       "--ssh-key", tmp_path / "id.pub", "--ssh-user", "deploy")
    linked = client.links_addresses()
    if linked:
        [nic] = client.list(machine["networkInterfaces"]["href"])
        owner = store.get("Machine", machine["id"].rsplit("/", 1)[1])["owner"]
        for ip in IPS:
            store.insert("Address", {"owner": owner, "name": ip, "data": {
                "ip": ip, "allocation": "static", "protocol": "IPv4", "network": nic["network"],
                "resource": {"href": machine["id"]}}})
    return machine, linked


@pytest.fixture
def fake_ssh(tmp_path, monkeypatch):
    """An `ssh` first on PATH that records its arguments (a real one needs a reachable guest)."""
    script = tmp_path / "bin" / "ssh"
    script.parent.mkdir()
    script.write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path / 'argv'}\nexit 7\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    return tmp_path / "argv"


def test_tables_show_the_addresses(run, leased):
    machine, linked = leased
    rc, out, _ = run("machines", "list")
    row = next(line for line in out.splitlines() if "web1" in line)
    assert rc == 0 and (all(ip in row for ip in IPS) if linked else not any(ip in out for ip in IPS))
    rc, out, _ = run("machines", "show", "web1")
    addresses = next(line for line in out.splitlines() if line.startswith("addresses"))
    assert rc == 0 and (all(ip in addresses for ip in IPS) if linked else "none known" in addresses)


def test_ssh_goes_to_the_public_address_as_the_credentials_user(run, leased, fake_ssh):
    machine, linked = leased
    rc, _, err = run("machines", "ssh", "web1", "--", "uptime")
    if not linked:
        assert rc == 1 and "no address is known" in err and not fake_ssh.exists()
        return
    assert rc == 7, err                                   # ssh's own exit status
    assert fake_ssh.read_text().split() == ["-l", "deploy", "--", "93.184.216.34", "uptime"]
    rc, _, _ = run("machines", "ssh", "web1", "-l", "root", "-i", "key")
    assert fake_ssh.read_text().split() == ["-i", "key", "-l", "root", "--", "93.184.216.34"]


def test_libcloud_nodes_carry_public_and_private_ips(server, leased):
    machine, linked = leased
    host, port = server.split("//")[1].split("/")[0].split(":")
    driver = get_driver("cimi")("alice", "alice-pw", host=host, port=int(port), secure=False)
    [node] = driver.list_nodes()
    same = driver.ex_get_node(node.id)
    expected = (["93.184.216.34"], ["192.168.201.5"]) if linked else ([], [])
    assert (node.public_ips, node.private_ips) == expected == (same.public_ips, same.private_ips)


def test_create_waits_for_an_address_on_a_terminal_only(leased, env, run):
    from tests.client.test_script import SCRIPT, run_in_pty
    _, linked = leased
    script_env = {**os.environ, "TERM": "xterm", "COLUMNS": "120"}
    rc, text = run_in_pty([SCRIPT, "machines", "create", "w2", "--config", "small", "--image", "blank",
                           "--address-timeout", "3"], script_env)
    assert rc == 0 and "none known yet" in text, text
    assert ("waiting for the addresses of w2" in text) == linked, "only a provider that links addresses"
    rc, out, err = run("machines", "create", "w3", "--config", "small", "--image", "blank")
    assert rc == 0 and "waiting" not in out + err and "none known yet" in out, "piped: no wait"
