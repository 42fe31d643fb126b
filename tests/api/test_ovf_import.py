"""OVF import through CIMI: the SystemTemplate collection's import operation (DSP0263 4.3, Annex A)."""
import pytest

from tests.ovf.conftest import descriptor, make_disk, manifest_line, write_ova

CIMI = "http://schemas.dmtf.org/cimi/1"


def user_import_dir(cloud, user="alice"):
    """A tenant imports from <import dir>/<user>/ only."""
    from pathlib import Path
    path = Path(cloud.config.import_dir) / user
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def import_dir(cloud):
    return user_import_dir(cloud)


@pytest.fixture
def ova(import_dir, tmp_path):
    disk = make_disk(tmp_path)
    desc = descriptor(size=len(disk))
    mf = manifest_line("vm.ovf", desc) + manifest_line("disk.vmdk", disk)
    return write_ova(import_dir / "vm.ova", [("vm.ovf", desc), ("vm.mf", mf.encode()), ("disk.vmdk", disk)])


def import_op(client):
    coll = client.get(client.cep()["systemTemplates"]["href"]).json
    return [o["href"] for o in coll["operations"] if o["rel"] == f"{CIMI}/action/import"][0]


def counts(client):
    cep = client.cep()
    return {key: client.get(cep[key]["href"]).json["count"]
            for key in ("systemTemplates", "machineTemplates", "machineConfigs", "machineImages", "volumeImages")}


def test_import_yields_a_system_template_that_starts(alice, ova):
    resp = alice.post(import_op(alice), {"resourceURI": f"{CIMI}/Action", "action": f"{CIMI}/action/import",
                                         "source": f"file://{ova}"})
    assert resp.status_code == 202 and "CIMI-Job-URI" in resp.headers, resp.text
    job = alice.wait(resp.headers["CIMI-Job-URI"])
    assert job["state"] == "SUCCESS", job.get("statusMessage")
    template = alice.get(resp.headers["Location"]).json
    assert template["importImage"] == f"file://{ova}"
    types = sorted(c["type"].rsplit("/", 1)[-1] for c in template["componentDescriptors"])
    assert types == ["Machine"]             # the package's network is a Network the import made
    machine_template = alice.get([c for c in template["componentDescriptors"]
                                  if c["type"].endswith("/Machine")][0]["machineTemplate"]["href"]).json
    [nic] = machine_template["networkInterfaces"]
    network = alice.get(nic["network"]["href"]).json
    assert (network["name"], network["state"]) == ("lan", "STARTED")
    config = alice.get(machine_template["machineConfig"]["href"]).json
    assert (config["cpu"], config["memory"]) == (2, 512 * 1024)
    assert alice.get(machine_template["machineImage"]["href"]).json["state"] == "AVAILABLE"
    _, system = alice.create("systems", {"name": "from-ovf", "systemTemplate": {"href": template["id"]}})
    assert system["state"] == "STARTED"
    machines = alice.get(system["machines"]["href"]).json["systemMachines"]
    assert len(machines) == 1
    machine = alice.get(machines[0]["machine"]["href"]).json
    [interface] = alice.get(machine["networkInterfaces"]["href"]).json["machineNetworkInterfaces"]
    assert interface["network"]["href"] == network["id"]


def test_refused_package_leaves_nothing_behind(alice, import_dir, tmp_path):
    disk = make_disk(tmp_path)
    desc = descriptor(size=len(disk))
    bad_manifest = manifest_line("vm.ovf", desc) + manifest_line("disk.vmdk", disk + b"x")
    ova = write_ova(import_dir / "bad.ova", [("vm.ovf", desc), ("vm.mf", bad_manifest.encode()),
                                             ("disk.vmdk", disk)])
    before = counts(alice)
    resp = alice.post(import_op(alice), {"action": f"{CIMI}/action/import", "source": str(ova)})
    job = alice.wait(resp.headers["CIMI-Job-URI"])
    assert job["state"] == "FAILED" and "package refused" in job["statusMessage"]
    assert "disk.vmdk" in job["statusMessage"]
    assert counts(alice) == before
    assert alice.get(resp.headers["Location"]).status_code == 404


@pytest.mark.parametrize("source", ["file:///etc/passwd", "../../etc/passwd", "http://example.org/x.ova", ""])
def test_sources_outside_the_import_directory_are_400(alice, source):
    before = counts(alice)
    resp = alice.post(import_op(alice), {"action": f"{CIMI}/action/import", "source": source})
    assert resp.status_code == 400 and resp.json["state"] == "FAILED"
    assert counts(alice) == before


def test_package_uploaded_as_bytes_is_imported_and_not_kept(alice, cloud, tmp_path):
    disk = make_disk(tmp_path)
    desc = descriptor(size=len(disk))
    mf = manifest_line("vm.ovf", desc) + manifest_line("disk.vmdk", disk)
    ova = write_ova(tmp_path / "up.ova", [("vm.ovf", desc), ("vm.mf", mf.encode()), ("disk.vmdk", disk)])
    href = alice.cep()["systemTemplates"]["href"]
    resp = alice.post(href + "?name=uploaded", ova.read_bytes(), headers={"Content-Type": "application/x-tar"})
    assert resp.status_code == 202, resp.text
    assert alice.wait(resp.headers["CIMI-Job-URI"])["state"] == "SUCCESS"
    template = alice.get(resp.headers["Location"]).json
    assert template["name"] == "uploaded" and len(template["componentDescriptors"]) == 1
    assert template["description"] == "imported from uploaded"      # never the staged file's name
    from pathlib import Path
    assert not list((Path(cloud.config.data_dir) / "uploads").glob("*"))      # the staged copy is gone


def test_uploaded_package_with_wrong_checksum_is_400_and_nothing_is_made(alice):
    before = counts(alice)
    href = alice.cep()["systemTemplates"]["href"]
    resp = alice.post(href + "?sha256=" + "0" * 64, b"not really a tar", headers={"Content-Type": "application/x-tar"})
    assert resp.status_code == 400 and "sha256" in resp.json["statusMessage"].lower()
    assert counts(alice) == before


def test_uploaded_package_over_the_limit_is_413_and_nothing_is_kept(alice, cloud):
    """The one upload receiver (cimi/imagefiles.receive) serves packages as images: 413, nothing staged."""
    from pathlib import Path
    before = counts(alice)
    cloud.config.max_upload = 1000
    href = alice.cep()["systemTemplates"]["href"]
    resp = alice.post(href + "?name=big", b"x" * 1001, headers={"Content-Type": "application/x-tar"})
    assert resp.status_code == 413 and "packages are limited to 1000 bytes" in resp.json["message"]
    assert counts(alice) == before
    assert not list((Path(cloud.config.data_dir) / "uploads").glob("*"))


@pytest.mark.parametrize("suffix", ["?x=1", "#frag"])
def test_a_source_with_a_query_or_fragment_is_400_even_when_the_file_exists(alice, ova, suffix):
    """cimi/localfiles.uri_path, shared with export: a query or fragment is refused, never cut off."""
    before = counts(alice)
    resp = alice.post(import_op(alice), {"action": f"{CIMI}/action/import", "source": ova.as_uri() + suffix})
    assert resp.status_code == 400 and "file: URI" in resp.json["message"]
    assert counts(alice) == before
