"""OVF export through CIMI: the `export` action of Machine and System, and the download it yields.

On the test driver (no bytes in volumes) the backend writes a blank qcow2 of
each disk's capacity; the package format, manifest, descriptor facts and the
download rules are what these tests check. The real round trip on
qemu:///system is at the end (marked libvirtd).
"""
import hashlib
import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from cimi import naming
from ovf.hardware import resolve_hardware
from ovf.package import open_package
from tests.api.test_ovf_import import import_op, user_import_dir
from tests.conftest import Client, machine_body
from tests.ovf.conftest import descriptor, make_disk, manifest_line, write_ova

CIMI = "http://schemas.dmtf.org/cimi/1"
GIB = 1024 ** 3


def export_action(**params):
    return {"resourceURI": f"{CIMI}/Action", "action": f"{CIMI}/action/export", **params}


def op_href(resource, name):
    ops = [o["href"] for o in resource.get("operations", ()) if o["rel"] == f"{CIMI}/action/{name}"]
    return ops[0] if ops else None


def export(client, resource, **params):
    """POST the export action; return the finished Job."""
    href = op_href(resource, "export")
    assert href, f"export not advertised on {resource['id']} ({resource['state']})"
    resp = client.post(href, export_action(**params))
    assert resp.status_code == 202, resp.text
    return client.wait(resp.headers["CIMI-Job-URI"], timeout=60)


def download_href(job):
    hrefs = [a["href"] for a in job["affectedResources"] if "/cimi/exports/" in a["href"]]
    assert len(hrefs) == 1, job["affectedResources"]
    return hrefs[0]


def members(data):
    """(name, bytes) of each tar member, in order."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar]


@pytest.fixture
def stopped_machine(alice):
    _, machine = alice.create("machines", machine_body(alice, name="web 1", initialState="STOPPED"))
    assert machine["state"] == "STOPPED"
    return machine


def exported_files(cloud):
    return sorted(p.name for p in Path(cloud.config.export_dir).iterdir())


def test_machine_export_writes_an_ova_this_importer_reads_back(alice, cloud, stopped_machine, tmp_path):
    job = export(alice, stopped_machine)
    assert job["state"] == "SUCCESS", job.get("statusMessage")
    assert job["targetResource"]["href"] == stopped_machine["id"]
    href = download_href(job)
    resp = alice.get(href)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/x-tar"
    assert int(resp.headers["content-length"]) == len(resp.content)
    parts = members(resp.content)
    names = [n for n, _ in parts]
    stem = href.rsplit("/", 1)[-1][:-len(".ova")]
    # DSP0243: descriptor first, then the manifest, then the files in References order.
    assert names == [f"{stem}.ovf", f"{stem}.mf", "web-1-disk1.vmdk"]
    manifest = dict(parts)[f"{stem}.mf"].decode().splitlines()
    assert manifest == [f"SHA256({n})= {hashlib.sha256(d).hexdigest()}" for n, d in parts if not n.endswith(".mf")]
    # This importer reads it back, manifest verified, with the machine's facts.
    ova = tmp_path / "back.ova"
    ova.write_bytes(resp.content)
    package = open_package(ova, dest=tmp_path)
    assert package.manifestChecked
    (vs,) = package.envelope.virtualSystems()
    hw = resolve_hardware(package.envelope, vs, None)
    disks = alice.get(stopped_machine["disks"]["href"]).json["disks"]
    assert (hw.cpus, hw.memoryMiB * 1024) == (stopped_machine["cpu"], stopped_machine["memory"])
    assert [d.capacityBytes for d in hw.disks] == [d["capacity"] * 1024 for d in disks]
    assert package.formats["file1"].format == "vmdk-streamOptimized"
    assert vs.name == "web 1"


def test_qcow2_disks_on_request(alice, stopped_machine, tmp_path):
    job = export(alice, stopped_machine, properties={"diskFormat": "qcow2"})
    assert job["state"] == "SUCCESS", job.get("statusMessage")
    content = alice.get(download_href(job)).content
    (disk_name, disk), = [(n, d) for n, d in members(content) if not n.endswith((".ovf", ".mf"))]
    assert disk_name.endswith(".qcow2") and disk.startswith(b"QFI\xfb")
    ova = tmp_path / "q.ova"
    ova.write_bytes(content)
    package = open_package(ova, dest=tmp_path)
    assert package.formats["file1"].format == "qcow2"
    assert package.envelope.disks[0].formatURI == "http://www.gnome.org/~markmc/qcow-image-format.html"


def test_export_of_a_started_machine_is_409(alice, cloud):
    _, machine = alice.create("machines", machine_body(alice))
    assert machine["state"] == "STARTED" and op_href(machine, "export") is None
    resp = alice.post(machine["id"] + "/export", export_action())
    assert resp.status_code == 409
    assert exported_files(cloud) == []


@pytest.mark.parametrize("params, words", [
    ({"destination": "file:///etc/evil.ova"}, "export directory"),
    ({"destination": "http://example.org/x.ova"}, "file: URI"),
    ({"destination": "sftp://host/x.ova"}, "file: URI"),
    ({"destination": "file:../x.ova"}, "export directory"),
    ({"destination": "file:sub/x.ova"}, "export directory"),
    ({"destination": "file:x.tar"}, ".ova"),
    ({"destination": "file:.hidden.ova"}, ".ova"),
    ({"destination": "/plain/path.ova"}, "file: URI"),
    ({"format": "application/zip"}, "format"),
    ({"properties": {"diskFormat": "vhdx"}}, "diskFormat"),
])
def test_bad_parameters_fail_the_job_with_400_and_write_nothing(alice, cloud, stopped_machine, params, words):
    job = export(alice, stopped_machine, **params)
    assert (job["state"], job["returnCode"]) == ("FAILED", 400)
    assert words in job["statusMessage"]
    assert exported_files(cloud) == []
    assert not any("/cimi/exports/" in a["href"] for a in job["affectedResources"])
    assert alice.get(stopped_machine["id"]).json["state"] == "STOPPED"


def test_destination_in_the_export_directory_is_never_overwritten(alice, cloud, stopped_machine):
    target = Path(cloud.config.export_dir) / "mine.ova"
    job = export(alice, stopped_machine, destination=f"file://{target}")
    assert job["state"] == "SUCCESS", job.get("statusMessage")
    assert download_href(job).endswith("/cimi/exports/mine.ova")
    first = target.read_bytes()
    again = export(alice, stopped_machine, destination="file:mine.ova")
    assert (again["state"], again["returnCode"]) == ("FAILED", 409)
    assert target.read_bytes() == first
    assert exported_files(cloud) == ["mine.ova"]         # no partial file left behind


def test_download_is_for_the_owner_only(app, alice, bob, admin, cloud, stopped_machine):
    href = download_href(export(alice, stopped_machine))
    assert alice.get(href).status_code == 200
    assert bob.get(href).status_code == 404
    assert admin.get(href).status_code == 200
    assert app.simulate_get(Client.path(href)).status_code == 401
    head = alice.request("HEAD", href)
    assert head.status_code == 200 and int(head.headers["content-length"]) > 0 and not head.content
    # A file put in the export directory by hand is no export of anyone's.
    (Path(cloud.config.export_dir) / "stray.ova").write_bytes(b"x")
    assert alice.get("/cimi/exports/stray.ova").status_code == 404
    assert alice.get("/cimi/exports/..%2Fcimi.sqlite3").status_code == 404


def test_download_never_follows_a_symlink(alice, cloud, stopped_machine):
    href = download_href(export(alice, stopped_machine))
    path = Path(cloud.config.export_dir) / href.rsplit("/", 1)[-1]
    path.unlink()
    path.symlink_to("/etc/passwd")
    resp = alice.get(href)
    assert resp.status_code == 404 and b"root:" not in resp.content


def import_package(client, path):
    resp = client.post(import_op(client), {"action": f"{CIMI}/action/import", "source": f"file://{path}"})
    assert resp.status_code == 202, resp.text
    job = client.wait(resp.headers["CIMI-Job-URI"], timeout=120)
    assert job["state"] == "SUCCESS", job.get("statusMessage")
    return client.get(resp.headers["Location"]).json


def machine_facts(client, template):
    """(cpu, memory KiB, disk capacities KiB) of each Machine component of a SystemTemplate."""
    out = []
    for c in template["componentDescriptors"]:
        if c["type"].endswith("/Machine"):
            mt = client.get(c["machineTemplate"]["href"]).json
            config = client.get(mt["machineConfig"]["href"]).json
            out.append((config["cpu"], config["memory"], [d["capacity"] for d in config.get("disks", ())]))
    return out


def test_system_export_then_import_keeps_the_facts(alice, cloud, tmp_path):
    """Import an OVA, start a System from it, stop it, export it, import the export."""
    disk = make_disk(tmp_path, size="8M")
    desc = descriptor(size=len(disk), capacity=8 * 1024 * 1024)
    mf = manifest_line("vm.ovf", desc) + manifest_line("disk.vmdk", disk)
    ova = write_ova(user_import_dir(cloud) / "vm.ova",
                    [("vm.ovf", desc), ("vm.mf", mf.encode()), ("disk.vmdk", disk)])
    template = import_package(alice, ova)
    _, system = alice.create("systems", {"name": "app", "systemTemplate": {"href": template["id"]}})
    assert system["state"] == "STARTED" and op_href(system, "export") is None
    system = alice.act(system, "stop")
    assert system["state"] == "STOPPED"
    job = export(alice, system)
    assert job["state"] == "SUCCESS", job.get("statusMessage")
    assert job["targetResource"]["href"] == system["id"]
    name = download_href(job).rsplit("/", 1)[-1]
    shutil.copy(Path(cloud.config.export_dir) / name, user_import_dir(cloud) / name)
    again = import_package(alice, user_import_dir(cloud) / name)
    assert machine_facts(alice, again) == machine_facts(alice, template)
    assert machine_facts(alice, again)[0][:2] == (2, 512 * 1024)
    package = open_package(Path(cloud.config.export_dir) / name)
    assert type(package.envelope.content).__name__ == "VirtualSystemCollection"
    assert [n.name for n in package.envelope.networks] == ["lan"]


def test_export_disk_on_the_test_driver_writes_a_blank_qcow2_of_the_capacity(cloud, tmp_path):
    image = cloud.backend.create_image("export-me", 3 * 1024 * 1024)
    out = tmp_path / "out.qcow2"
    info = cloud.backend.export_disk(image.key, str(out))
    assert (info.format, info.capacity_bytes) == ("qcow2", 3 * 1024 * 1024)
    shown = subprocess.run(["qemu-img", "info", "-f", "qcow2", "--output=json", str(out)],
                           capture_output=True, text=True, check=True).stdout
    assert '"virtual-size": 3145728' in shown


# --- the real round trip on qemu:///system ------------------------------------------------

QCOW2_URI = "http://www.gnome.org/~markmc/qcow-image-format.html"


def small_qcow2_ova(tmp_path, import_dir):
    """A qcow2 of 16 MiB with 1 MiB of random data at 4 MiB, packaged by ovf/writer.py as an OVA."""
    import os

    from ovf.model import (
        RT_DISK,
        RT_MEMORY,
        RT_PROCESSOR,
        Disk,
        Envelope,
        File,
        Item,
        VirtualSystem,
    )
    from ovf.writer import write_descriptor
    raw = tmp_path / "seed.raw"
    with open(raw, "wb") as f:
        f.truncate(16 * 1024 * 1024)
        f.seek(4 * 1024 * 1024)
        f.write(os.urandom(1024 * 1024))
    disk = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(disk)], check=True)
    data = disk.read_bytes()
    env = Envelope("1.0", [File("file1", "disk.qcow2", len(data))],
                   [Disk("vmdisk1", 16 * 1024 * 1024, "qcow2", QCOW2_URI, "file1")], [], [],
                   VirtualSystem("tiny", "tiny", items=[
                       Item("1", RT_PROCESSOR, virtualQuantity="1"),
                       Item("2", RT_MEMORY, virtualQuantity="128", allocationUnits="byte * 2^20"),
                       Item("3", RT_DISK, hostResource=("ovf:/disk/vmdisk1",))]))
    desc = write_descriptor(env)
    mf = manifest_line("tiny.ovf", desc) + manifest_line("disk.qcow2", data)
    return write_ova(import_dir / "tiny.ova", [("tiny.ovf", desc), ("tiny.mf", mf.encode()), ("disk.qcow2", data)]), raw


def raw_sha256(path, fmt):
    """SHA256 of a disk's guest-visible bytes (qemu-img convert to raw, format explicit)."""
    out = Path(str(path) + ".raw")
    subprocess.run(["qemu-img", "convert", "-q", "-f", fmt, "-O", "raw", str(path), str(out)], check=True)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    out.unlink()
    return digest


@pytest.fixture
def real_cloud(libvirtd, libvirtd_pool, tmp_path, monkeypatch):  # noqa: F811
    import libvirt
    from falcon import testing

    from cimi import auth
    from cimi.http.app import create_app
    from cimi.cloud import Cloud, Config
    pool, _blank = libvirtd_pool
    monkeypatch.setenv("CIMI_ADMIN_PASSWORD", "admin-pw")
    cloud = Cloud(Config(data_dir=str(tmp_path / "var"), workers=2, libvirt_uris=[libvirtd],
                         image_pool=pool, volume_pool=pool, reconcile_every=0, default_network=""))
    auth.add_user("alice", "alice-pw")
    alice = Client(testing.TestClient(create_app(cloud)), "alice", "alice-pw")
    observer = libvirt.open(libvirtd)
    try:
        yield cloud, alice, observer
    finally:
        cep = alice.cep()
        # alice's, in this cloud only; the templates before the Networks and Volumes they use
        for key in ("systems", "machines", "systemTemplates", "machineTemplates", "volumes", "networks"):
            coll = alice.get(cep[key]["href"]).json
            for item in coll.get(next((k for k in coll if isinstance(coll[k], list) and k != "operations"), ""), []):
                resp = alice.delete(item["id"])
                if resp.status_code == 202:
                    alice.wait(resp.headers["CIMI-Job-URI"], timeout=120)
        observer.close()
        cloud.close()
        cloud.backend.close()


@pytest.mark.libvirtd
def test_round_trip_on_a_real_libvirtd(real_cloud, tmp_path):
    import libvirt
    cloud, alice, observer = real_cloud
    ova, seed = small_qcow2_ova(tmp_path, user_import_dir(cloud))
    template = import_package(alice, ova)
    resp = alice.post(alice.cep()["systems"]["href"], {"name": "rt", "systemTemplate": {"href": template["id"]}})
    assert resp.status_code == 202, resp.text
    job = alice.wait(resp.headers["CIMI-Job-URI"], timeout=180)
    assert job["state"] == "SUCCESS", job.get("statusMessage")
    system = alice.get(resp.headers["Location"]).json
    assert system["state"] == "STARTED"
    (link,) = alice.get(system["machines"]["href"]).json["systemMachines"]
    machine_id = link["machine"]["href"].rsplit("/", 1)[-1]
    dom = observer.lookupByName(naming.machine_name(machine_id))
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    system = alice.act(system, "stop", export_action(action=f"{CIMI}/action/stop", force=True))
    assert system["state"] == "STOPPED" and dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF

    job = export(alice, system)
    assert job["state"] == "SUCCESS", job.get("statusMessage")
    name = download_href(job).rsplit("/", 1)[-1]
    exported = Path(cloud.config.export_dir) / name
    assert alice.get(download_href(job)).content == exported.read_bytes()
    package = open_package(exported, dest=tmp_path)
    assert package.formats["file1"].format == "vmdk-streamOptimized"
    # The machine's disk (an overlay on the imported image) left flattened, bytes intact.
    assert raw_sha256(package.files["file1"], "vmdk") == raw_sha256(seed, "raw")

    shutil.copy(exported, user_import_dir(cloud) / name)
    again = import_package(alice, user_import_dir(cloud) / name)
    assert machine_facts(alice, again) == machine_facts(alice, template) == [(1, 128 * 1024, [16 * 1024])]
    (component,) = again["componentDescriptors"]
    image = alice.get(alice.get(component["machineTemplate"]["href"]).json["machineImage"]["href"]).json
    vol = observer.storageVolLookupByKey(image["imageLocation"])
    assert vol.info()[1] == 16 * 1024 * 1024
