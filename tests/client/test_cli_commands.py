"""The everyday commands: machines with networks, keys, user-data and volumes; credentials, systems,
templates, configurations, image upload, snapshots, console, ssh, job filters, paging and $select."""
import base64
import json

import pytest
from lxml import etree

from cimi import naming
from cimiclient.cli.machines import ssh_command
from cimiclient import NS, short_id

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3Gd7Nm0cqKJ1nNQp0Z3kq0l7m0X3bq9v1d2y3z4w5x alice@laptop"


@pytest.fixture
def pubkey(tmp_path):
    path = tmp_path / "id.pub"
    path.write_text(KEY + "\n")
    return path


def config_drives(dom):
    """The domain's cloud-init drives (a CD-ROM or a virtio disk: named <domain>-cidata.iso either way)."""
    return [d for d in dom.findall("devices/disk") if (d.find("source") is not None and
                                                      d.find("source").get("file", "").endswith("-cidata.iso"))]


def domain(libvirt_conn, machine):
    return etree.fromstring(libvirt_conn.lookupByName(naming.machine_name(short_id(machine["id"]))).XMLDesc(0))


def test_machine_with_networks_key_user_data_and_volume(run_json, run, client, libvirt_conn, pubkey, tmp_path):
    run_json("networks", "create", "front", "--cidr", "10.62.1.0/24")
    run_json("networks", "create", "back", "--cidr", "10.62.2.0/24")
    run_json("volumes", "create", "data", "--size", "64M")
    user_data = tmp_path / "ud.yaml"
    user_data.write_bytes(b"#cloud-config\nruncmd: [echo hi]\n")
    machine = run_json("machines", "create", "web", "--config", "small", "--image", "blank", "--network", "front",
                       "--network", "back", "--ssh-key", pubkey, "--ssh-user", "deploy", "--user-data", user_data,
                       "--volume", "data:vdc")
    nics = client.list(machine["networkInterfaces"]["href"])
    assert sorted(n["network"]["href"] for n in nics) == sorted(client.find("networks", n)["id"]
                                                                for n in ("front", "back"))
    credential = client.find("credentials", "web-key")
    assert credential["userName"] == "deploy" and bytes.fromhex(credential["key"]).decode() == KEY
    assert machine["properties"]["credential"] == credential["id"]
    [attached] = client.list(machine["volumes"]["href"])
    assert attached["initialLocation"] == "vdc" and attached["volume"]["href"] == client.find("volumes", "data")["id"]
    dom = domain(libvirt_conn, machine)
    assert len(dom.findall("devices/interface")) == 2
    assert len(config_drives(dom)) == 1, "user-data and key go on a config drive"
    rc, out, _ = run("machines", "show", "web")
    assert rc == 0 and "addresses" in out and "none known" in out
    rc, out, _ = run("volumes", "list")
    assert rc == 0 and "web:vdc" in out


def test_machine_create_is_refused_whole(run, client, pubkey):
    rc, _, err = run("machines", "create", "w", "--config", "small", "--image", "blank", "--ssh-key", pubkey,
                     "--volume", "nosuch")
    assert rc == 1 and "no volumes with id or name 'nosuch'" in err
    assert client.list("credentials") == [] and client.list("machines") == [], "nothing is left behind"
    rc, _, err = run("machines", "create", "w", "--config", "small", "--image", "blank", "--ssh-key", pubkey,
                     "--credential", "c")
    assert rc == 2 and "not both" in err
    bad = pubkey.with_name("bad.pub")
    bad.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    rc, _, err = run("machines", "create", "w", "--config", "small", "--image", "blank", "--ssh-key", bad)
    assert rc == 1 and "one OpenSSH public key line" in err and client.list("credentials") == []


def test_machine_create_with_a_credential_and_no_wait(run_json, client, pubkey):
    run_json("credentials", "create", "mine", "--public-key", pubkey)
    started = run_json("machines", "create", "w", "--config", "small", "--image", "blank",
                       "--credential", "mine", "--no-wait")
    job = client.wait(started["job"])
    assert job["state"] == "SUCCESS"
    assert client.get(started["location"])["properties"]["credential"] == client.find("credentials", "mine")["id"]


def test_credentials_create_list_show_delete(run, run_json, pubkey):
    cred = run_json("credentials", "create", "k1", "--public-key", pubkey, "--user", "ops")
    assert cred["userName"] == "ops" and cred["name"] == "k1"
    rc, out, _ = run("credentials", "list")
    assert rc == 0 and "k1" in out and "ops" in out and "alice@laptop" in out
    assert run_json("credentials", "show", "k1")["id"] == cred["id"]
    rc, out, err = run("credentials", "delete", "k1")
    assert rc == 0, err
    assert run_json("credentials", "list")["count"] == 0


def test_names_work_as_ids_and_ambiguity_is_an_error(run, run_json):
    for i in range(2):                 # two ranges: one host cannot route one range twice
        run_json("networks", "create", "twin", "--cidr", f"10.63.{i}.0/24")
    rc, _, err = run("networks", "stop", "twin")
    assert rc == 1 and "2 networks are named 'twin'" in err and "give the id instead" in err
    assert "HTTP" not in err


def test_systems_from_a_template(run, run_json, client):
    config, image = client.find("machineConfigs", "small")["id"], client.find("machineImages", "blank")["id"]
    client.create("systemTemplates", {"resourceURI": NS + "SystemTemplate", "name": "pair", "componentDescriptors": [
        {"type": NS + "Machine", "name": "node", "quantity": 2,
         "machineTemplate": {"machineConfig": {"href": config}, "machineImage": {"href": image}}}]})
    rc, out, _ = run("system-templates", "show", "pair")
    assert rc == 0 and "Machine node x2" in out
    rc, out, _ = run("system-templates", "list")
    assert rc == 0 and "pair" in out
    system = run_json("systems", "create", "s1", "--template", "pair")
    assert system["state"] == "STARTED"
    rc, out, _ = run("systems", "show", "s1")
    assert rc == 0 and "node1 (STARTED)" in out and "node2 (STARTED)" in out
    assert run_json("systems", "stop", "s1")["state"] == "STOPPED"
    assert {m["state"] for m in client.list("machines")} == {"STOPPED"}
    assert run_json("systems", "start", "s1")["state"] == "STARTED"
    rc, out, _ = run("systems", "list")
    assert rc == 0 and "s1" in out
    assert run("systems", "delete", "s1")[0] == 0
    assert client.list("systems") == [] and client.list("machines") == []
    assert run("system-templates", "delete", "pair")[0] == 0


def test_templates_and_configs_create(run, run_json, admin_client, env, client, pubkey):
    rc, _, err = run("configs", "create", "tiny", "--cpu", "1", "--memory", "256M")
    assert rc == 1 and "HTTP 403" in err, "sizes are the provider's"
    rc, out, err = run("--user", "admin", "--password", "admin-pw", "--output", "json", "configs", "create", "tiny",
                       "--cpu", "2", "--memory", "256M", "--disk", "1G")
    assert rc == 0, err
    tiny = json.loads(out)
    assert tiny["cpu"] == 2 and tiny["memory"] == 256 * 1024 and tiny["disks"][0]["capacity"] == 1 << 20
    run_json("credentials", "create", "k", "--public-key", pubkey)
    run_json("networks", "create", "tn", "--cidr", "10.64.1.0/24")
    tpl = run_json("templates", "create", "web-tpl", "--config", "tiny", "--image", "blank", "--credential", "k",
                   "--network", "tn")
    assert tpl["machineConfig"]["href"] == tiny["id"] and tpl["credential"]["href"].endswith(
        short_id(client.find("credentials", "k")["id"]))
    rc, out, _ = run("templates", "list")
    assert rc == 0 and "web-tpl" in out
    machine = run_json("machines", "create", "fromtpl", "--template", "web-tpl")
    assert machine["cpu"] == 2 and machine["properties"]["credential"]
    assert len(client.list(machine["networkInterfaces"]["href"])) == 1
    assert run("templates", "delete", "web-tpl")[0] == 0
    assert run("--user", "admin", "--password", "admin-pw", "configs", "delete", "tiny")[0] == 0


def test_images_upload(run, run_json, tmp_path):
    disk = tmp_path / "tiny.raw"
    disk.write_bytes(b"\0" * (1 << 20))
    image = run_json("images", "upload", disk)
    assert image["name"] == "tiny" and image["state"] == "AVAILABLE" and image["properties"]["sha256"]
    rc, out, _ = run("images", "list")
    assert rc == 0 and "tiny" in out
    rc, _, err = run("images", "upload", tmp_path / "missing.raw")
    assert rc == 2 and "does not exist" in err


def test_volumes_snapshot(run, run_json, client):
    run_json("volumes", "create", "v", "--size", "16M")
    image = run_json("volumes", "snapshot", "v", "--name", "v-snap")
    assert image["name"] == "v-snap" and image["state"] == "AVAILABLE"
    assert image["imageLocation"] == client.find("volumes", "v")["id"]
    assert [i["name"] for i in client.list("volumeImages")] == ["v-snap"]


def test_console_tail_is_checked(run, machine):
    rc, _, err = run("machines", "console", "web1", "--tail", "0")
    assert rc == 2 and "--tail" in err
    rc, _, err = run("machines", "console", "nosuch")
    assert rc == 1 and "no machines with id or name 'nosuch'" in err


def test_ssh_runs_ssh_with_the_user_and_address(run, machine, tmp_path, monkeypatch):
    rc, _, err = run("machines", "ssh", "web1")
    assert rc == 1 and "no address is known for this machine yet" in err
    addresses = [{"ip": "192.168.201.7"}, {"ip": "fd00::7"}, {"ip": "93.184.216.34"}]
    assert ssh_command(addresses, "deploy", None, ("uptime",)) == ["ssh", "-l", "deploy", "--", "93.184.216.34",
                                                                   "uptime"]
    assert ssh_command(addresses[:2], None, "k", ()) == ["ssh", "-i", "k", "--", "192.168.201.7"]
    assert ssh_command([{"ip": "-oProxyCommand=x"}, {"ip": "10.0.0.1"}], "-oX", None, ()) == [
        "ssh", "-l", "-oX", "--", "10.0.0.1"], "server text is never an ssh option"


def test_jobs_list_filters(run, run_json, client):
    run_json("networks", "create", "jn", "--cidr", "10.65.1.0/24")
    run_json("networks", "stop", "jn")
    stops = run_json("jobs", "list", "--action", "stop")["jobs"]
    assert [short_id(j["action"]) for j in stops] == ["stop"]
    network = client.find("networks", "jn")["id"]
    assert [j["id"] for j in run_json("jobs", "list", "--target", "networks/jn")["jobs"]] == [stops[0]["id"]]
    assert run_json("jobs", "list", "--target", network)["count"] == 1
    assert run_json("jobs", "list", "--state", "failed")["count"] == 0
    assert run_json("jobs", "list", "--state", "success", "--action", "add")["count"] == 1
    rc, out, _ = run("jobs", "list")
    assert rc == 0 and "networks/" + short_id(network) in out and "100%" in out
    rc, _, err = run("jobs", "list", "--target", "nonsense")
    assert rc == 2 and "KIND/IDENT" in err


def test_select_must_name_real_attributes(run, run_json, machine):
    rc, out, err = run("machines", "list", "--select", "name,colour")
    assert rc == 1 and "Machine has no attribute 'colour'" in err and out == ""
    rc, _, err = run("machines", "show", "web1", "--select", "nmae")
    assert rc == 1 and "'nmae'" in err
    assert [set(m) for m in run_json("machines", "list", "--select", "name,cpu")["machines"]] == [
        {"resourceURI", "name", "cpu"}]


def test_paging_and_last_is_an_index(run, run_json):
    for i, name in enumerate("abcde"):
        run_json("networks", "create", name, "--cidr", f"10.66.{i}.0/24")
    names = lambda *a: [n["name"] for n in run_json("networks", "list", "--orderby", "name", *a)["networks"]]  # noqa: E731
    assert names("--page", "2", "--page-size", "2") == ["c", "d"]
    assert names("--page", "3", "--page-size", "2") == ["e"]
    assert names("--page-size", "3") == ["a", "b", "c"]
    assert names("--first", "2", "--last", "3") == ["b", "c"], "--last is the index of the last entry"
    rc, _, err = run("networks", "list", "--page", "1", "--last", "2")
    assert rc == 2 and "not both" in err
    rc, out, _ = run("networks", "list", "--help")
    assert rc == 0 and "it is not a count" in out


def test_import_offers_only_what_the_server_does(run):
    rc, _, err = run("import", "x.ova", "--into", "systems")
    assert rc == 2 and "No such option" in err
    rc, out, _ = run("export", "--help")
    assert "systemTemplates" not in out


def test_user_data_file_bytes_are_sent_as_base64(client, tmp_path):
    body = client.machine_body("u", config="small", image="blank", user_data=b"\x00\xffbinary")
    assert base64.b64decode(body["machineTemplate"]["userData"]) == b"\x00\xffbinary"
