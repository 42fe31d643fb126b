"""The `cimi` command against a live server: every command, output formats, errors, exit codes."""
import json
import tarfile
import shutil
from pathlib import Path

import pytest
from lxml import etree

from cimiclient import NS
from ovf.inspect import inspect, summary
from tests.conftest import console_log
from tests.api.test_ovf_import import user_import_dir
from tests.ovf.conftest import descriptor, make_disk, manifest_line, write_ova

CIMI_XML = "{http://schemas.dmtf.org/cimi/1}"
OVF_DATA = Path(__file__).parent.parent / "data" / "ovf"


@pytest.fixture
def ova(cloud, tmp_path):
    """A valid OVA in the server's import directory."""
    disk = make_disk(tmp_path)
    desc = descriptor(size=len(disk))
    mf = manifest_line("vm.ovf", desc) + manifest_line("disk.vmdk", disk)
    return write_ova(user_import_dir(cloud) / "vm.ova",
                     [("vm.ovf", desc), ("vm.mf", mf.encode()), ("disk.vmdk", disk)])


def test_machines_create_by_config_and_image_shows_a_table(run):
    rc, out, err = run("machines", "create", "web1", "--config", "small", "--image", "blank")
    assert rc == 0, err
    lines = dict(line.split(None, 1) for line in out.splitlines() if line.strip())
    assert lines["name"] == "web1" and lines["state"] == "STARTED" and lines["cpu"] == "1"
    assert "stop" in lines["operations"]
    rc, out, _ = run("machines", "list")
    assert rc == 0
    header, *rows = [line for line in out.splitlines() if line.strip() and not set(line.strip()) <= {"─"}]
    assert header.split() == ["ID", "NAME", "STATE", "CPU", "MEMORY", "ADDRESSES", "CREATED"]
    assert len(rows) == 1 and rows[0].split()[1:4] == ["web1", "STARTED", "1"]
    assert "512 MiB" in rows[0]
    assert all(line == line.rstrip() for line in out.splitlines()), "piped tables have no trailing blanks"


def test_machines_create_from_a_template(run_json, client):
    cfg = client.find("machineConfigs", "medium")["id"]
    img = client.find("machineImages", "blank")["id"]
    client.create("machineTemplates", {"resourceURI": NS + "MachineTemplate", "name": "tpl",
                                       "machineConfig": {"href": cfg}, "machineImage": {"href": img}})
    doc = run_json("machines", "create", "fromtpl", "--template", "tpl", "--state", "STOPPED")
    assert doc["name"] == "fromtpl" and doc["cpu"] == 2 and doc["state"] == "STOPPED"


def test_machine_actions_walk_the_states(run_json, machine):
    name = machine["name"]
    assert run_json("machines", "stop", name)["state"] == "STOPPED"
    assert run_json("machines", "start", name)["state"] == "STARTED"
    assert run_json("machines", "restart", name)["state"] == "STARTED"
    assert run_json("machines", "pause", name)["state"] == "PAUSED"
    assert run_json("machines", "start", name)["state"] == "STARTED"
    assert run_json("machines", "suspend", name)["state"] == "SUSPENDED"
    assert run_json("machines", "start", name)["state"] == "STARTED"
    assert run_json("machines", "stop", "--force", name)["state"] == "STOPPED"


def test_an_action_not_offered_exits_1_with_the_reason(run, machine):
    rc, out, err = run("machines", "start", "web1")
    assert rc == 1 and out == ""
    assert "start is not offered on web1 in state STARTED" in err


def test_show_by_name_short_id_and_url_in_each_format(run, run_json, machine):
    short = machine["id"].rsplit("/", 1)[1]
    for ident in ("web1", short, machine["id"]):
        assert run_json("machines", "show", ident)["id"] == machine["id"]
    rc, out, _ = run("machines", "show", "web1", "--output", "xml")
    root = etree.fromstring(out.encode())
    assert rc == 0 and root.tag == CIMI_XML + "Machine" and root.findtext(CIMI_XML + "name") == "web1"
    rc, out, _ = run("machines", "show", short)
    assert rc == 0 and f"id  {machine['id']}".split() == out.splitlines()[0].split()
    selected = run_json("machines", "show", "web1", "--select", "name,state")
    assert set(selected) == {"resourceURI", "name", "state"}


def test_delete_then_show_is_an_error(run, run_json, machine):
    rc, out, err = run("machines", "delete", "web1")
    assert rc == 0 and "deleted machine" in out, err
    rc, out, err = run("machines", "list")
    assert rc == 0 and out.strip() == "no machines"
    rc, out, err = run("machines", "show", "web1")
    assert rc == 1 and "no machines with id or name 'web1'" in err


def test_query_parameters_are_passed_through(run, run_json):
    for name in ("a", "b", "c"):
        run_json("machines", "create", name, "--config", "small", "--image", "blank", "--state", "STOPPED")
    doc = run_json("machines", "list", "--filter", "name='b'")
    assert doc["count"] == 1 and [m["name"] for m in doc["machines"]] == ["b"]
    doc = run_json("machines", "list", "--filter", "state='STOPPED'", "--filter", "name!='a'")
    assert sorted(m["name"] for m in doc["machines"]) == ["b", "c"]
    doc = run_json("machines", "list", "--select", "name", "--orderby", "name:desc")
    assert [set(m) for m in doc["machines"]] == [{"resourceURI", "name"}] * 3
    assert [m["name"] for m in doc["machines"]] == ["c", "b", "a"]
    doc = run_json("machines", "list", "--first", "2", "--last", "3", "--orderby", "name")
    assert doc["count"] == 3 and [m["name"] for m in doc["machines"]] == ["b", "c"]
    rc, out, _ = run("machines", "list", "--select", "name,state")
    assert rc == 0 and out.split()[:2] == ["NAME", "STATE"] and "a" in out.split()
    rc, out, _ = run("--output", "xml", "machines", "list", "--select", "name")
    root = etree.fromstring(out.encode())
    assert root.tag == CIMI_XML + "Collection" and root.get("resourceURI") == NS + "MachineCollection"
    assert [m.findtext(CIMI_XML + "name") for m in root.iter(CIMI_XML + "Machine")] == ["a", "b", "c"] or \
        sorted(m.findtext(CIMI_XML + "name") for m in root.iter(CIMI_XML + "Machine")) == ["a", "b", "c"]
    rc, out, err = run("machines", "list", "--filter", "name=='b'")
    assert rc == 1 and "HTTP 400" in err


def test_volumes_create_attach_detach_delete(run, run_json, machine):
    vol = run_json("volumes", "create", "v1", "--size", "512M")
    assert vol["capacity"] == 512 * 1024 and vol["state"] == "AVAILABLE"
    attached = run_json("volumes", "attach", "v1", "web1", "--location", "vdb")
    assert attached["volume"]["href"] == vol["id"] and attached["initialLocation"] == "vdb"
    rc, out, err = run("volumes", "delete", "v1")
    assert rc == 1 and "delete is not offered on v1 in state AVAILABLE, attached to" in err, err   # nor sent
    rc, out, err = run("volumes", "detach", "v1", "web1")
    assert rc == 0 and "detached volume" in out, err
    rc, out, err = run("volumes", "detach", "v1", "web1")
    assert rc == 1 and "is not attached to machine web1" in err
    rc, out, _ = run("volumes", "list")
    assert rc == 0 and "v1" in out and "512 MiB" in out and "AVAILABLE" in out
    assert run("volumes", "delete", "v1")[0] == 0
    assert run_json("volumes", "list")["count"] == 0


def test_volume_size_needs_exactly_one_source(run):
    rc, _, err = run("volumes", "create", "v", "--size", "1G", "--config", "x")
    assert rc == 2 and "exactly one of" in err
    rc, _, err = run("volumes", "create", "v", "--size", "lots")
    assert rc == 2 and "not a size" in err


def test_networks_create_stop_start_delete(run, run_json):
    net = run_json("networks", "create", "n1", "--cidr", "10.7.0.0/24")
    assert net["state"] == "STARTED" and net["cidr"] == "10.7.0.0/24" and net["networkType"] == "PRIVATE"
    assert run_json("networks", "stop", "n1")["state"] == "STOPPED"
    assert run_json("networks", "start", "n1")["state"] == "STARTED"
    rc, out, _ = run("networks", "list")
    assert rc == 0 and ["n1", "STARTED", "PRIVATE", "10.7.0.0/24"] == out.splitlines()[-1].split()[1:]
    assert run("networks", "delete", "n1")[0] == 0
    assert run_json("networks", "list")["count"] == 0


def test_images_list_and_capture(run, run_json, machine):
    live = run_json("images", "capture", "web1", "--name", "cap0")      # a running machine: crash-consistent
    assert live["name"] == "cap0" and live["state"] == "AVAILABLE"
    run_json("machines", "suspend", "web1")
    rc, _, err = run("images", "capture", "web1", "--name", "cap1")
    assert rc == 1 and "capture is not offered" in err
    run_json("machines", "start", "web1")
    run_json("machines", "stop", "web1")
    image = run_json("images", "capture", "web1", "--name", "cap1")
    assert image["name"] == "cap1" and image["state"] == "AVAILABLE" and image["type"] == "IMAGE"
    names = [i["name"] for i in run_json("images", "list")["machineImages"]]
    assert sorted(names) == ["blank", "cap0", "cap1"]
    rc, out, _ = run("images", "list", "--filter", "name='cap1'")
    assert rc == 0 and "cap1" in out and "blank" not in out


def test_configs_and_templates_lists(run):
    rc, out, _ = run("configs", "list")
    assert rc == 0 and {"small", "medium", "large"} <= set(out.split())
    rc, out, _ = run("templates", "list")
    assert rc == 0 and out.strip() == "no machineTemplates"


def test_jobs_show_and_wait(run, run_json):
    started = run_json("machines", "create", "w", "--config", "small", "--image", "blank", "--no-wait")
    assert started["job"].rsplit("/", 2)[1] == "jobs" and "/machines/" in started["location"]
    job = run_json("jobs", "wait", started["job"])
    assert job["state"] == "SUCCESS" and job["progress"] == 100
    rc, out, _ = run("jobs", "show", started["job"].rsplit("/", 1)[1])
    assert rc == 0 and "SUCCESS" in out and "add" in out
    rc, out, _ = run("jobs", "list")
    assert rc == 0 and "SUCCESS" in out


def test_jobs_wait_on_a_failed_job_exits_1(run, run_json, cloud):
    shutil.copy(OVF_DATA / "glance__testserver.ova", user_import_dir(cloud) / "bad.ova")
    rc, out, err = run("--output", "json", "import", "bad.ova", "--no-wait")
    assert rc == 0, err
    job = json.loads(out)["job"]
    rc, out, err = run("jobs", "wait", job)
    assert rc == 1 and "job failed" in err and "its bytes are raw" in err


def test_ovf_inspect(run, ova):
    rc, out, err = run("ovf", "inspect", ova, "--json")
    assert rc == 0 and json.loads(out) == inspect(str(ova)), err
    assert json.loads(out)["virtualSystems"]
    rc, out, _ = run("ovf", "inspect", ova)
    assert rc == 0 and out.strip() == summary(inspect(str(ova))).strip()
    rc, _, err = run("ovf", "inspect", OVF_DATA / "glance__testserver-not-tar.ova")
    assert rc == 1 and "refused:" in err and "tar archive" in err


def test_import_an_ova_from_the_import_directory(run_json, run, ova):
    template = run_json("import", ova.name)
    assert template["resourceURI"] == NS + "SystemTemplate" and template["name"] == "vm"
    assert template["importImage"] == "vm.ova"
    template = run_json("import", ova)   # a local file is uploaded
    # One Machine component; the package's network "lan" became a Network the template's NIC is on.
    assert template["importImage"] == "upload" and len(template["componentDescriptors"]) == 1
    rc, _, err = run("import", "/nowhere/x.ova")
    assert rc == 1 and "no package 'x.ova' in your import directory" in err and "/nowhere" not in err


def test_export_needs_a_stopped_machine_then_writes_the_package(run, machine, tmp_path):
    rc, _, err = run("export", "web1", "-o", tmp_path / "out.ova")
    assert rc == 1 and "export needs it STOPPED" in err and not (tmp_path / "out.ova").exists()
    assert run("machines", "stop", "web1")[0] == 0
    rc, out, err = run("export", "web1", "-o", tmp_path / "out.ova")
    assert rc == 0, err
    assert tarfile.is_tarfile(tmp_path / "out.ova") and "wrote" in out


# --- settings, errors, exit codes -------------------------------------------------------------------------
def test_bad_credentials_print_the_server_message(run):
    rc, out, err = run("--password", "wrong", "machines", "list")
    assert rc == 1 and out == "" and err.strip() == "cimi: error: wrong user name or password (HTTP 401)"


def test_unknown_resource_url_prints_the_server_message(run, env):
    rc, _, err = run("machines", "show", env.replace("cloudEntryPoint", "machines/nope"))
    assert rc == 1 and "HTTP 404" in err and "nope" in err


def test_settings_from_a_config_file(run, env, monkeypatch, tmp_path):
    config = tmp_path / "cimi" / "config.ini"
    config.parent.mkdir()
    config.write_text(f"[default]\nendpoint = {env}\nuser = alice\npassword = alice-pw\n"
                      f"[bob]\nendpoint = {env}\nuser = bob\npassword = bad\n")
    for name in ("CIMI_ENDPOINT", "CIMI_USER", "CIMI_PASSWORD", "CIMI_CONFIG"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))   # the user's config dir: $XDG_CONFIG_HOME/cimi
    rc, out, err = run("machines", "list")
    assert rc == 0 and out.strip() == "no machines", err
    rc, _, err = run("--profile", "bob", "machines", "list")
    assert rc == 1 and "wrong user name or password" in err
    rc, _, err = run("--profile", "carol", "machines", "list")
    assert rc == 2 and "no [carol] section" in err
    rc, out, _ = run("--profile", "bob", "--password", "bob-pw", "machines", "list")
    assert rc == 0, "an option beats the config file"


def test_no_endpoint_is_a_usage_error(run, monkeypatch):
    monkeypatch.delenv("CIMI_ENDPOINT")
    rc, _, err = run("machines", "list")
    assert rc == 2 and "no endpoint" in err


def test_bare_host_endpoint_means_its_cimi_entry_point(run, env):
    rc, out, err = run("--endpoint", env.split("/cimi/")[0], "configs", "list")
    assert rc == 0 and "small" in out, err


def test_unreachable_endpoint(run):
    rc, _, err = run("--endpoint", "http://127.0.0.1:9/cimi/", "machines", "list")
    assert rc == 1 and "cannot reach" in err


def test_usage_errors_exit_2(run):
    assert run("machines", "create", "x")[0] == 2
    assert run("machines", "create", "x", "--template", "t", "--image", "i")[0] == 2
    assert run("machines", "frobnicate")[0] == 2
    assert run("--output", "yaml", "machines", "list")[0] == 2
    rc, out, _ = run("--help")
    assert rc == 0 and "machines" in out and "volumes" in out


def test_machines_console_prints_the_guest_text_raw(run, machine, cloud):
    console_log(cloud, machine).write_bytes(
        b"old line\n[bold]not markup[/bold] \x1b[31mred\x1b[0m\nlogin: ")
    rc, out, err = run("machines", "console", "web1", "--tail", "2")
    assert (rc, err) == (0, "")
    assert out == "[bold]not markup[/bold] \x1b[31mred\x1b[0m\nlogin: \n"
    rc, out, _ = run("machines", "console", "web1")
    assert rc == 0 and out.startswith("old line\n")
    rc, _out, err = run("machines", "console", "web1", "--tail", "0")
    assert rc == 2 and "--tail" in err
