"""End to end through the CIMI API only: a real guest on qemu:///system.

A real `cimi-server` process uploads the guest disk as a MachineImage,
creates a PUBLIC Network, a Credential with an SSH key and a Machine with
userData; the guest's console, read through the Machine's console operation,
must show the userData, the key and the Machine's name as hostname, and the
address the guest got by DHCP must be an Address of that Machine, listed on
its networkInterface. One booted Machine per kernel serves every assertion.
"""
import base64
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import libvirt
import pytest

from tests.guest import random_cidr
from tests.guest.cloudinit import meta_value, user_data_text
from tests.guest.console import section, section_pattern, wait_for

pytestmark = pytest.mark.libvirtd
SERVER = str(Path(sys.executable).parent / "cimi-server")
CIMI = "http://schemas.dmtf.org/cimi/1"
CONSOLE = "urn:darn-simple-cloud:cimi:console"
BOOT_TIMEOUT = 240           # seconds from the Machine's POST; 20-60 s measured on two busy cores
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGd1ZXN0LWFwaS10ZXN0LWtleS1ub3QtcmVhbC14eHh4eHg guest-api@dsc-test"
USER = "dsc"


class Api:
    """A cimi-server process on loopback, on the real libvirtd, and raw HTTP to it as admin."""

    def __init__(self, uri, pool, data_dir, **settings):
        """settings: more CIMI_* environment for the server."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{port}/cimi/"
        env = {**os.environ, "CIMI_BIND": f"127.0.0.1:{port}", "CIMI_DATA_DIR": str(data_dir),
               "CIMI_LIBVIRT_URI": uri, "CIMI_IMAGE_POOL": pool, "CIMI_ADMIN_PASSWORD": "pw",
               "CIMI_DOMAIN_TYPE": "qemu", "CIMI_RECONCILE_EVERY": "2", **settings}
        # The log goes to a file: an undrained pipe would block the server once full.
        self.log_path = Path(data_dir) / "server.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([SERVER], env=env, stderr=self.log)
        deadline = time.monotonic() + 60
        while "Serving on" not in self.log_path.read_text():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise AssertionError(f"cimi-server did not start:\n{self.log_path.read_text()}")
            time.sleep(0.1)
        self.cep = self.json("GET", "cloudEntryPoint")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()

    def request(self, method, url, data=None, content_type=None, accept="application/json"):
        """Return (status, headers, body bytes); HTTP errors are answers too."""
        headers = {"Authorization": "Basic " + base64.b64encode(b"admin:pw").decode(), "Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(urllib.parse.urljoin(self.base, url), data, headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.headers, err.read()

    def json(self, method, url, body=None):
        data = json.dumps(body).encode() if body is not None else None
        status, _headers, raw = self.request(method, url, data, "application/json" if data else None)
        assert status < 400, f"{method} {url}: {status} {raw[:2000]!r}"
        return json.loads(raw) if raw else None

    def done(self, status, headers, raw, timeout=180):
        """Wait for the Job of a 201/202 answer to succeed; return the resource it made or changed."""
        assert status in (201, 202), f"{status} {raw[:2000]!r}"
        if "CIMI-Job-URI" in headers:
            deadline = time.monotonic() + timeout
            while (job := self.json("GET", headers["CIMI-Job-URI"]))["state"] not in ("SUCCESS", "FAILED"):
                assert time.monotonic() < deadline, f"job still {job['state']}: {job}"
                time.sleep(0.3)
            assert job["state"] == "SUCCESS", job.get("statusMessage")
        return self.json("GET", headers["Location"])

    def create(self, collection, body):
        data = json.dumps(body).encode()
        return self.done(*self.request("POST", self.cep[collection]["href"], data, "application/json"))

    def upload_image(self, path, name):
        url = self.cep["machineImages"]["href"] + "?" + urllib.parse.urlencode({"name": name})
        return self.done(*self.request("POST", url, Path(path).read_bytes(), "application/octet-stream"))

    def items(self, collection, query=""):
        doc = self.json("GET", self.cep[collection]["href"] + query)
        return next((v for k, v in doc.items() if isinstance(v, list) and k != "operations"), [])

    def console(self, machine, tail=500):
        """The Machine's console text, read through its console operation."""
        op, = [o["href"] for o in machine["operations"] if o["rel"] == CONSOLE]
        status, headers, raw = self.request("GET", f"{op}?tail={tail}", accept="text/plain")
        assert status == 200 and headers["Content-Type"].startswith("text/plain"), (status, raw[:500])
        return raw.decode().replace("\r\n", "\n")

    def delete_all(self):
        """Delete, through the API, every Machine, Network, Credential and MachineImage."""
        for collection in ("machines", "networks", "credentials", "machineImages"):
            self.delete_all_of(collection)

    def delete_all_of(self, collection):
        for item in self.items(collection):
            status, headers, _raw = self.request("DELETE", item["id"])
            deadline = time.monotonic() + 60
            while status == 202 and time.monotonic() < deadline and self.json(
                    "GET", headers["CIMI-Job-URI"])["state"] in ("QUEUED", "RUNNING"):
                time.sleep(0.3)


def remove_domains(uri, data_dir):
    """Destroy and undefine the domains this server's cloud left (named cimi-<its id>-...)."""
    with sqlite3.connect(Path(data_dir) / "cimi.sqlite3") as db:
        cloud_id = db.execute("SELECT value FROM setting WHERE key = 'cloud_id'").fetchone()[0]
    conn = libvirt.open(uri)
    try:
        for dom in conn.listAllDomains(0):
            if dom.name().startswith(f"cimi-{cloud_id}-"):
                if dom.isActive():
                    dom.destroy()
                dom.undefine()
    finally:
        conn.close()


def create_public_network(api, name, tries=5):
    """A started PUBLIC (NAT) Network on a random /24 that no other network here uses."""
    for _ in range(tries):
        body = {"resourceURI": f"{CIMI}/NetworkCreate", "name": name,
                "networkTemplate": {"networkConfig": {"networkType": "PUBLIC", "cidr": random_cidr()}}}
        answer = api.request("POST", api.cep["networks"]["href"], json.dumps(body).encode(), "application/json")
        try:
            return api.done(*answer)
        except AssertionError:                 # NOTE: the CIDR is taken on this host: try another
            if "Location" in answer[1]:
                api.request("DELETE", answer[1]["Location"])
    raise AssertionError(f"no free CIDR for a PUBLIC Network after {tries} tries")


@dataclass
class Booted:
    """What one booted Machine showed, and when (seconds after its POST)."""
    api: Api
    machine: dict
    marker: str
    console: str
    ip: str | None
    user_data_after: float | None
    dhcp_after: float | None


def boot(api, guest_image):
    """Upload, create and boot one Machine through the API; wait for its DHCP address on the console."""
    name = f"guest-{uuid.uuid4().hex[:8]}"
    marker = f"dsc-marker-{uuid.uuid4().hex}"
    image = api.upload_image(guest_image, f"{name}-image")
    network = create_public_network(api, f"{name}-net")
    credential = api.create("credentials", {
        "resourceURI": f"{CIMI}/CredentialCreate", "name": f"{name}-key",
        "credentialTemplate": {"userName": USER, "key": KEY.encode().hex()}})
    user_data = f"#cloud-config\nwrite_files:\n  - path: /etc/dsc-marker\n    content: {marker}\n"
    body = {"resourceURI": f"{CIMI}/MachineCreate", "name": name, "machineTemplate": {
        "machineConfig": {"cpu": 1, "memory": 256 * 1024},
        "machineImage": {"href": image["id"]},
        "credential": {"href": credential["id"]},
        "networkInterfaces": [{"network": {"href": network["id"]}}],
        "userData": base64.b64encode(user_data.encode()).decode()}}
    posted = time.monotonic()
    machine = api.create("machines", body)
    console = lambda: api.console(machine)          # noqa: E731
    seen = wait_for(console, section_pattern("user-data"), BOOT_TIMEOUT, poll=1)
    user_data_after = time.monotonic() - posted if seen else None
    dhcp = wait_for(console, section_pattern("dhcp"), BOOT_TIMEOUT - (time.monotonic() - posted), poll=1)
    dhcp_after = time.monotonic() - posted if dhcp else None
    return Booted(api, machine, marker, console(), dhcp.group(1).strip() if dhcp else None,
                  user_data_after, dhcp_after)


@pytest.fixture(scope="module")
def booted(guest_image, libvirtd, libvirtd_pool, tmp_path_factory):
    """One Machine booted from the guest image through a real server (per kernel variant)."""
    pool, _blank = libvirtd_pool
    data_dir = tmp_path_factory.mktemp("guest-api")
    api = Api(libvirtd, pool, data_dir)
    try:
        result = boot(api, guest_image)
        print(f"\n[guest-api {Path(guest_image).name}] user-data on the console {result.user_data_after} s "
              f"after the POST, DHCP address after {result.dhcp_after} s; console:\n{result.console}")
        yield result
    finally:
        api.delete_all()
        api.stop()
        remove_domains(libvirtd, data_dir)


def test_the_console_shows_the_user_data(booted):
    assert booted.marker in user_data_text(section(booted.console, "user-data") or ""), booted.console


def test_the_credential_key_reaches_the_guest_as_its_user(booted):
    user_data = user_data_text(section(booted.console, "user-data") or "")
    assert KEY in user_data, booted.console
    assert re.search(rf"""["']?name["']?: *["']?{USER}["']?""", user_data), user_data


def test_the_hostname_is_the_machine_name(booted):
    meta = section(booted.console, "meta-data") or ""
    assert meta_value(meta, "local-hostname") == booted.machine["name"], booted.console


def test_the_dhcp_address_is_an_address_of_the_machine(booted):
    api, machine = booted.api, booted.machine
    assert booted.ip, f"no DHCP address on the console:\n{booted.console}"
    query = "?" + urllib.parse.urlencode({"$filter": f"resource/href='{machine['id']}'"})
    deadline = time.monotonic() + 30
    while not (addresses := api.items("addresses", query)) and time.monotonic() < deadline:
        time.sleep(1)
    assert [a["ip"] for a in addresses] == [booted.ip]
    address = addresses[0]
    assert (address["resource"]["href"], address["allocation"]) == (machine["id"], "dynamic")
    nic, = api.json("GET", machine["networkInterfaces"]["href"])["machineNetworkInterfaces"]
    listed = nic["addresses"]
    if "machineNetworkInterfaceAddresses" not in listed:
        listed = api.json("GET", listed["href"])
    assert address["id"] in [a["address"]["href"] for a in listed.get("machineNetworkInterfaceAddresses", [])]
