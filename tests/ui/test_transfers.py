"""Bytes through the console: image upload with progress, OVA import then a System, OVA export download."""
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from tests.api.test_ovf_import import user_import_dir
from tests.ovf.conftest import descriptor, make_disk, manifest_line, write_ova
from tests.ui.conftest import api, first_id

pytestmark = pytest.mark.ui
MIB = 1024 * 1024

RECORD_PROGRESS = """
    window.__progress = [];
    const bar = arguments[0];
    new MutationObserver(() => window.__progress.push(bar.value)).observe(bar, {attributes: true});"""


def test_upload_an_image_with_a_progress_bar(console, server, tmp_path):
    image = tmp_path / "disk.raw"
    image.write_bytes(b"\0" * (48 * MIB))
    console.sign_in("alice", "alice-pw")
    console.go("images")
    console.expand("Upload an image")
    console.by_label("Name").send_keys("uploaded-disk")
    console.by_label("Image file").send_keys(str(image))
    console.driver.execute_script(RECORD_PROGRESS, console.find("main .upload progress"))
    console.button("Upload").click()
    assert "succeeded" in console.job_done("Image file uploaded-disk")
    seen = console.driver.execute_script("return window.__progress")
    assert seen and seen[-1] == 100 and seen == sorted(seen), seen
    assert "48 MiB sent" in console.text("main .upload-status")
    console.wait.until(lambda d: "AVAILABLE" in console.row("uploaded-disk").text)
    console.shot("images")
    _, _, doc = api(server, "alice", "alice-pw", "GET", "/cimi/machineImages?$filter=name='uploaded-disk'")
    assert doc["count"] == 1 and doc["machineImages"][0]["state"] == "AVAILABLE"


def test_register_an_image_from_the_import_directory(console, cloud):
    disk = user_import_dir(cloud) / "base.qcow2"                # alice registers from her own directory
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True)
    console.sign_in("alice", "alice-pw")
    console.go("images")
    console.expand("Register an image")
    console.by_label("Name").send_keys("base")
    console.by_label("Location").send_keys(f"file://{disk}")
    console.button("Register").click()
    assert "succeeded" in console.job_done("register base")
    console.wait.until(lambda d: "AVAILABLE" in console.row("base").text)


def choose_ova(console, name, ova):
    """As alice, open the OVA import form, name the template and choose the file (the form reads it)."""
    console.sign_in("alice", "alice-pw")
    console.go("templates")
    console.expand("Import an OVF package (OVA)")
    console.by_label("Name").send_keys(name)
    console.by_label("OVA package").send_keys(str(ova))


def test_import_an_ova_then_create_its_system(console, server, tmp_path):
    disk = make_disk(tmp_path)
    desc = descriptor(size=len(disk))
    mf = manifest_line("vm.ovf", desc) + manifest_line("disk.vmdk", disk)
    ova = write_ova(tmp_path / "appliance.ova", [("vm.ovf", desc), ("vm.mf", mf.encode()), ("disk.vmdk", disk)])
    choose_ova(console, "appliance", ova)
    console.button("Import").click()
    assert "succeeded" in console.job_done("OVA package appliance")
    assert console.find("main .upload progress").get_attribute("value") == "100"
    # one component: the Machine (its Network is a resource of its own, made by the import)
    console.wait.until(lambda d: console.row("appliance").find_elements("css selector", "td")[1].text == "1")
    console.shot("ovf-import")
    console.button("create a system from appliance").click()
    assert "succeeded" in console.job_done("create system appliance")
    console.go("systems")
    console.wait.until(lambda d: "STARTED" in console.row("appliance").text)

    console.go("machines")                                   # and a Machine from the MachineTemplate it made
    console.expand("Create a machine")
    console.by_label("Name").send_keys("from-template")
    console.choose("Create from", "a template")
    template_name = [o.text for o in console.all("option", console.by_label("Template"))][0]
    console.choose("Template", template_name)
    console.button("Create machine").click()
    assert "succeeded" in console.job_done("create from-template")
    console.wait.until(lambda d: "STARTED" in console.row("from-template").text)


OPTIONS = """
  <DeploymentOptionSection><Info>sizes</Info>
    <Configuration ovf:id="small" ovf:default="true"><Label>Small</Label><Description>1 CPU</Description></Configuration>
    <Configuration ovf:id="big"><Label>Big &lt;iron&gt;</Label><Description>8 CPUs</Description></Configuration>
  </DeploymentOptionSection>"""
BIG = b"""<Item ovf:configuration="big"><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>8</rasd:VirtualQuantity></Item>
    </VirtualHardwareSection>"""


def test_the_deployment_options_come_from_the_chosen_ova(console, server, tmp_path):
    """The console reads the package's DeploymentOptionSection before sending a byte; the choice is the import's."""
    disk = make_disk(tmp_path)
    desc = descriptor(size=len(disk), envelope_extra=OPTIONS).replace(b"</VirtualHardwareSection>", BIG)
    ova = write_ova(tmp_path / "sized.ova", [("vm.ovf", desc), ("disk.vmdk", disk)])
    choose_ova(console, "sized", ova)
    console.choose("Deployment option", "Big <iron> (big)")
    assert [o.text for o in console.all("option", console.by_label("Deployment option"))] == [
        "the package's default", "Small (small), the default", "Big <iron> (big)"]
    console.button("Import").click()
    assert "succeeded" in console.job_done("OVA package sized")
    _, _, found = api(server, "alice", "alice-pw", "GET", "/cimi/systemTemplates?$filter=name='sized'")
    assert found["systemTemplates"][0]["properties"]["ovf:profile"] == "big"
    _, _, templates = api(server, "alice", "alice-pw", "GET", "/cimi/machineTemplates?$expand=machineConfig")
    assert [t["machineConfig"]["cpu"] for t in templates["machineTemplates"]] == [8]


def test_an_ovas_network_goes_to_a_network_the_user_chooses(console, server, tmp_path):
    """The package's NetworkSection, read in the browser, is offered against the user's Networks (networkMap)."""
    api(server, "alice", "alice-pw", "POST", "/cimi/networks", {"name": "backend", "networkTemplate": {
        "networkConfig": {"networkType": "PRIVATE", "cidr": "10.217.4.0/24"}}})
    _, _, found = api(server, "alice", "alice-pw", "GET", "/cimi/networks?$filter=name='backend'")
    backend = found["networks"][0]["id"]
    disk = make_disk(tmp_path)
    ova = write_ova(tmp_path / "mapped.ova", [("vm.ovf", descriptor(size=len(disk))), ("disk.vmdk", disk)])
    choose_ova(console, "mapped", ova)
    console.choose('Network for "lan"', "backend")
    console.button("Import").click()
    assert "succeeded" in console.job_done("OVA package mapped")
    _, _, templates = api(server, "alice", "alice-pw", "GET", "/cimi/machineTemplates")
    [template] = templates["machineTemplates"]
    assert [n["network"]["href"] for n in template["networkInterfaces"]] == [backend]
    _, _, networks = api(server, "alice", "alice-pw", "GET", "/cimi/networks")
    assert [n["name"] for n in networks["networks"]] == ["backend"]                 # none made for "lan"


def test_export_a_stopped_machine_and_download_the_ova(console, server, tmp_path):
    _, headers, _ = api(server, "alice", "alice-pw", "POST", "/cimi/machines", {
        "name": "to-export", "machineTemplate": {"machineConfig": {"href": first_id(server, "machineConfigs")},
                                                 "machineImage": {"href": first_id(server, "machineImages")},
                                                 "initialState": "STOPPED"}})
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    console.driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    console.sign_in("alice", "alice-pw")
    console.go("machines")
    console.wait.until(lambda d: "STOPPED" in console.row("to-export").text)
    console.button("export to-export").click()
    assert "succeeded" in console.job_done("export to-export")
    link = console.find("#jobs button.download")
    name = link.text.removeprefix("Download ")
    link.click()
    console.wait.until(lambda d: (downloads / name).is_file() and not list(downloads.glob("*.crdownload")))
    time.sleep(0.2)
    with tarfile.open(downloads / name) as package:
        assert package.getnames()[0].endswith(".ovf")                       # OVF 1.x: the descriptor first

    (downloads / name).unlink()                  # once the tray has moved on, the Jobs list still offers it
    console.go("jobs")
    console.button(f"Download {name}", console.find("main tbody")).click()
    console.wait.until(lambda d: (downloads / name).is_file() and not list(downloads.glob("*.crdownload")))

    console.go("machines")
    console.button("capture to-export").click()   # a MachineImage at capture's href
    assert "succeeded" in console.job_done("capture to-export")
    console.go("images")
    console.wait.until(lambda d: "AVAILABLE" in console.row("to-export image").text)
