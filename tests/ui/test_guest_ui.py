"""A real guest through the web console, on qemu:///system under TCG.

A `cimi-server` process on the real libvirtd (as tests/guest/test_guest_api.py
runs it); in Chromium the admin uploads the guest image, creates a Network and
a key, then a Machine with user-data holding a unique marker, follows its Job,
and opens the Machine's page: its console log (polled by the page) must show
the marker and the key, and the machines list the address the guest printed
between its DHCP markers. One Machine, generic kernel only.
"""
import re
import time
import uuid

import pytest

from tests.guest import random_cidr
from tests.guest.console import section_pattern
from tests.guest.test_guest_api import BOOT_TIMEOUT, Api, remove_domains

pytestmark = [pytest.mark.ui, pytest.mark.libvirtd]
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHVpLWd1ZXN0LXRlc3Qta2V5LW5vdC1yZWFsLXh4eHh4eHg ui-guest@dsc-test"
USER = "dsc"
JOB_TIMEOUT = 180            # an upload's conversion, a Machine's disk copy and define, on two busy cores


@pytest.fixture
def guest_api(libvirtd, libvirtd_pool, tmp_path):
    """A cimi-server process on the real libvirtd, booting TCG guests; no default Network."""
    pool, _blank = libvirtd_pool
    api = Api(libvirtd, pool, tmp_path, CIMI_DEFAULT_NETWORK="", CIMI_LEASE_POLL="1")
    try:
        yield api
    finally:
        api.delete_all()
        api.stop()
        remove_domains(libvirtd, tmp_path)


@pytest.fixture
def server(guest_api):
    """The CloudEntryPoint URL the `console` fixture opens (this process's, not the test driver's)."""
    return guest_api.base + "cloudEntryPoint"


def create_network(console, name, tries=3):
    """A public (NAT) Network on a random /24; another CIDR when this host already routes the one tried."""
    console.go("networks")
    console.expand("Create a network")
    for attempt in range(tries):
        attempt_name = f"{name}-{attempt}" if attempt else name
        console.by_label("Name").send_keys(attempt_name)
        console.choose("Type", "public (NAT)")         # PUBLIC: libvirt NAT, a DHCP server
        console.by_label("CIDR").send_keys(random_cidr())
        console.button("Create a network").click()
        if "succeeded" in console.job_done(f"create network {attempt_name}", JOB_TIMEOUT):
            return attempt_name
    raise AssertionError(f"no free CIDR for a Network after {tries} tries")


def console_text(console):
    """What the Machine page's console log shows (textContent: long lines are not wrapped into it)."""
    return console.find("pre.console").get_attribute("textContent").replace("\r\n", "\n")


def show_marker(console, marker):
    """Scroll the page to the console log, and the log to the marker (for the screenshot)."""
    console.driver.execute_script("""
        const pre = document.querySelector("pre.console");
        pre.scrollIntoView();
        const lines = pre.textContent.split("\\n");
        const at = lines.findIndex((l) => l.includes(arguments[0]));
        pre.scrollTop = Math.max(0, pre.scrollHeight * (at - 12) / lines.length);""", marker)


@pytest.mark.parametrize("guest_image", ["generic"], indirect=True)     # one kernel: the Machine is the point
def test_a_guest_created_in_the_browser_shows_its_user_data_and_address(console, guest_api, guest_image):
    name = f"ui-guest-{uuid.uuid4().hex[:6]}"
    marker = f"dsc-ui-marker-{uuid.uuid4().hex}"
    console.sign_in("admin", "pw")

    console.go("images")
    console.expand("Upload an image")
    console.by_label("Name").send_keys(f"{name}-image")
    console.by_label("Image file").send_keys(guest_image)
    console.button("Upload").click()
    assert "succeeded" in console.job_done(f"Image file {name}-image", JOB_TIMEOUT)

    network = create_network(console, f"{name}-net")

    console.go("keys")
    console.expand("Add a key")
    console.by_label("Name").send_keys(f"{name}-key")
    console.by_label("Guest user").send_keys(USER)
    console.by_label("SSH public key").send_keys(KEY)
    console.button("Add key").click()
    assert "succeeded" in console.job_done(f"add key {name}-key", JOB_TIMEOUT)

    console.go("machines")
    console.expand("Create a machine")
    console.by_label("Name").send_keys(name)
    console.choose("Configuration", "small (1 vCPU, 512 MiB)")
    console.choose("Image", f"{name}-image")
    console.choose("Network", network)
    console.choose("Key (credential)", f"{name}-key")
    console.by_label("User data").send_keys(
        f"#cloud-config\nwrite_files:\n  - path: /etc/dsc-marker\n    content: {marker}\n")
    console.button("Create machine").click()
    created = time.monotonic()
    assert "succeeded" in console.job_done(f"create {name}", JOB_TIMEOUT)
    job_after = time.monotonic() - created

    console.link(name).click()
    console.until(lambda d: marker in console_text(console), BOOT_TIMEOUT,
          lambda: f"the marker never showed in the console view:\n{console_text(console)}")
    marker_after = time.monotonic() - created
    dhcp = console.until(lambda d: re.search(section_pattern("dhcp"), console_text(console), re.DOTALL),
                 BOOT_TIMEOUT, lambda: f"no DHCP address in the console view:\n{console_text(console)}")
    ip = dhcp.group(1).strip()
    text = console_text(console)
    print(f"\n[ui-guest] create Job done {job_after:.1f} s after the click, marker in the browser after "
          f"{marker_after:.1f} s, DHCP address {ip} after {time.monotonic() - created:.1f} s")
    assert KEY in text and re.search(rf"""["']?name["']?: *["']?{USER}["']?""", text), text
    # the page shows the lease without a reload: it looks again while a started Machine has none
    console.until(lambda d: console.find("main .machine .addresses").text == ip, 60,
          lambda: f"the Machine page never showed {ip}: {console.find('main .machine').text}")
    show_marker(console, marker)
    console.shot("machine-console", height=1100)

    console.go("machines")
    assert console.row(name).find_element("css selector", ".addresses").text == ip
    # the tiny guest ignores ACPI: a plain stop waits the server's 60 s stop timeout, a forced one does not
    console.button(f"force stop {name}").click()
    assert "succeeded" in console.job_done(f"force stop {name}", 30)
    console.wait.until(lambda d: "STOPPED" in console.row(name).text)
