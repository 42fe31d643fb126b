"""End to end through the clients alone: the `cimi` command, then Libcloud, on qemu:///system.

One real `cimi-server` process (as in tests/guest/test_guest_api.py) serves
both tests. Each uploads the guest image and makes a Machine on a new PUBLIC
Network with an SSH key, a user and user-data, all through its client, then reads the guest's console through the client until
the guest printed its config drive and its DHCP address: the user-data
marker, the key and the user must be there, and the client must show that
address as the Machine's. Only the generic kernel boots here (the API test
covers both kernels).
"""
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from libcloud.compute.base import NodeAuthSSHKey

from cimiclient.libcloud import CIMIJobFailedError, CIMINodeDriver
from tests.client.test_docs import blocks
from tests.guest import random_cidr
from tests.guest.cloudinit import user_data_text
from tests.guest.console import section, section_pattern, wait_for
from tests.guest.test_guest_api import Api, remove_domains

pytestmark = [pytest.mark.libvirtd, pytest.mark.parametrize("guest_image", ["generic"], indirect=True)]
BIN = str(Path(sys.executable).parent)
BOOT_TIMEOUT = 240           # seconds from the create to the DHCP address (see test_guest_api)
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGd1ZXN0LWNsaWVudHMtdGVzdC1rZXktbm90LXJlYWwteHh4eHg dsc-clients@test"


@pytest.fixture(scope="module")
def api(libvirtd, libvirtd_pool, tmp_path_factory):
    """A cimi-server on qemu:///system (TCG guests), shared by the CLI and the Libcloud test."""
    pool, _blank = libvirtd_pool
    data_dir = tmp_path_factory.mktemp("guest-clients")
    server = Api(libvirtd, pool, data_dir)
    try:
        yield server
    finally:
        server.delete_all()
        server.stop()
        remove_domains(libvirtd, data_dir)


def user_data(marker: str) -> str:
    return f"#cloud-config\nwrite_files:\n  - path: /etc/dsc-marker\n    content: {marker}\n"


def assert_guest_saw(console: str, marker: str, user: str):
    """The config drive the guest printed holds the user-data marker, the key and the user."""
    seen = user_data_text(section(console, "user-data") or "")
    assert marker in seen, console
    assert KEY in seen, console
    assert re.search(rf"""["']?name["']?: *["']?{user}["']?""", seen), seen


def guest_address(console: str) -> str:
    return re.search(section_pattern("dhcp"), console, re.DOTALL).group(1).strip()


def until(read, ok, timeout=60, poll=1):
    """Poll read() until ok(value); return the last value."""
    deadline = time.monotonic() + timeout
    while not ok(value := read()) and time.monotonic() < deadline:
        time.sleep(poll)
    return value


def test_the_cli_alone_boots_a_machine_with_network_key_and_user_data(api, guest_image, tmp_path):
    env = {**os.environ, "PATH": BIN + os.pathsep + os.environ["PATH"], "CIMI_ENDPOINT": api.base + "cloudEntryPoint",
           "CIMI_USER": "admin", "CIMI_PASSWORD": "pw", "CIMI_CONFIG": str(tmp_path / "none.ini")}
    env.pop("CIMI_PROFILE", None)

    def cimi(*argv, timeout=300):
        proc = subprocess.run(["cimi", *argv], env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=timeout)
        assert proc.returncode == 0, f"cimi {' '.join(argv)}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        return proc.stdout

    marker = f"dsc-marker-{uuid.uuid4().hex}"
    (tmp_path / "demo-key.pub").write_text(KEY + "\n")
    (tmp_path / "user-data.yaml").write_text(user_data(marker))
    cimi("images", "upload", guest_image, "--name", "guest")
    for _ in range(5):                       # NOTE: a random CIDR may be taken on this shared host
        made = subprocess.run(["cimi", "networks", "create", "backend", "--type", "PUBLIC", "--cidr", random_cidr()],
                              env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        if made.returncode == 0:
            break
        subprocess.run(["cimi", "networks", "delete", "backend"], env=env, capture_output=True, timeout=120)
    assert made.returncode == 0, made.stderr
    # The names of docs/clients.md, whose `sh guest` console block runs below as written.
    created = time.monotonic()
    cimi("machines", "create", "web1", "--config", "small", "--image", "guest", "--network", "backend",
         "--ssh-key", "demo-key.pub", "--ssh-user", "deploy", "--user-data", "user-data.yaml", "--wait")
    console = until(lambda: cimi("machines", "console", "web1", "--tail", "500").replace("\r\n", "\n"),
                    lambda text: re.search(section_pattern("dhcp"), text, re.DOTALL), BOOT_TIMEOUT)
    print(f"\n[cimi] marker and address on the console {time.monotonic() - created:.1f} s after `machines create`")
    assert_guest_saw(console, marker, "deploy")
    ip = guest_address(console)
    listing = until(lambda: cimi("machines", "list"), lambda text: ip in text)
    row, = [line for line in listing.splitlines() if " web1 " in line]
    assert ip in row, listing

    documented = [line for line in blocks("sh guest")[0].splitlines() if line.startswith("cimi machines console")]
    assert documented, "docs/clients.md shows no console command"
    shown = cimi(*documented[0].split("#")[0].split()[1:])
    assert ip in shown and "==== DSC ready" in shown, shown
    # `machines ssh` goes to that address; the tiny guest has no sshd (docs/clients.md says so): refused.
    tried = subprocess.run(["cimi", "machines", "ssh", "web1", "--", "true"], env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=60)
    assert tried.returncode == 255 and f"connect to host {ip} port 22" in tried.stderr, tried.stderr


def test_libcloud_alone_boots_a_node_with_network_key_and_user_data(api, guest_image):
    url = urlsplit(api.base)
    driver = CIMINodeDriver("admin", "pw", secure=False, host=url.hostname, port=url.port)
    size, = [s for s in driver.list_sizes() if s.name == "small"]
    node_image = driver.ex_upload_image(guest_image, f"lc-image-{uuid.uuid4().hex[:8]}")
    network = None
    for _ in range(5):                       # NOTE: a random CIDR may be taken on this shared host
        name = f"lc-net-{uuid.uuid4().hex[:8]}"
        try:
            network = driver.ex_create_network(name, "PUBLIC", random_cidr())
            break
        except CIMIJobFailedError:           # the failed Network stays (STOPPED): remove it, try another CIDR
            driver.ex_destroy_network(next(n for n in driver.list_networks() if n.name == name))
    assert network, "no free CIDR for a PUBLIC Network"
    marker = f"dsc-marker-{uuid.uuid4().hex}"
    created = time.monotonic()
    node = driver.create_node("lc1", size, node_image, auth=NodeAuthSSHKey(KEY), ex_username="lcuser",
                              ex_userdata=user_data(marker), ex_networks=[network])
    console = wait_for(lambda: driver.ex_get_console_output(node)["output"].replace("\r\n", "\n"),
                       section_pattern("dhcp"),
                       BOOT_TIMEOUT, poll=1)
    assert console, driver.ex_get_console_output(node, ex_tail=500)["output"]
    print(f"\n[libcloud] marker and address on the console {time.monotonic() - created:.1f} s after create_node")
    text = driver.ex_get_console_output(node, ex_tail=500)["output"].replace("\r\n", "\n")
    assert_guest_saw(text, marker, "lcuser")
    ip = guest_address(text)
    listed = until(lambda: [n for n in driver.list_nodes() if n.id == node.id],
                   lambda nodes: nodes and ip in nodes[0].private_ips + nodes[0].public_ips)
    assert ip in listed[0].private_ips, listed
    assert driver.ex_get_node(node.id).private_ips == [ip]
