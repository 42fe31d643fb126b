"""`cimi-server` as a newcomer runs it: options, users, first start, real HTTP on loopback."""
import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.conftest import TEST_NODE

SERVER = [str(Path(sys.executable).parent / "cimi-server")]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(args, env=None):
    return subprocess.run(SERVER + args, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def test_users_add_list_delete(tmp_path):
    data = ["--data-dir", str(tmp_path)]
    assert run(["users", "add", "carol", "--password", "pw1", "--admin", "--create", *data]).returncode == 0
    assert run(["users", "add", "dave", "--password", "pw2", *data]).returncode == 0
    listed = run(["users", "list", *data]).stdout.split("\n")
    assert "carol\tadmin" in listed and "dave\tuser" in listed
    assert run(["users", "delete", "dave", *data]).returncode == 0
    assert "dave" not in run(["users", "list", *data]).stdout
    missing = run(["users", "delete", "nobody", *data])
    assert missing.returncode == 1 and "no user nobody" in missing.stderr
    assert "pw1" not in run(["users", "list", *data]).stdout


def test_users_delete_refuses_a_user_who_still_owns_resources(tmp_path):
    from cimi import kinds, store
    data = ["--data-dir", str(tmp_path)]
    assert run(["users", "add", "dave", "--password", "pw", "--create", *data]).returncode == 0
    kinds.load_all()
    database = store.open_database(f"sqlite:///{tmp_path / 'cimi.sqlite3'}")
    key = store.insert("Credential", {"owner": "dave", "name": "laptop", "data": {"publicKey": "ssh-ed25519 AAAA"}})
    refused = run(["users", "delete", "dave", *data])
    assert refused.returncode == 1 and "dave still owns credentials" in refused.stderr, refused.stderr
    assert "dave\tuser" in run(["users", "list", *data]).stdout
    store.delete("Credential", key["id"])
    database.close()
    assert run(["users", "delete", "dave", *data]).returncode == 0


def test_users_add_refuses_a_name_that_cannot_sign_in(tmp_path):
    data = ["--data-dir", str(tmp_path)]
    assert run(["users", "add", "zoë", "--password", "pw", "--create", *data]).returncode == 0
    for name in ("a:b", "x/../alice", "tab\there", " lead", "trail ", "..", "back\\slash"):
        refused = run(["users", "add", name, "--password", "pw", *data])
        assert refused.returncode == 2 and "refused: HTTP sign-in" in refused.stderr, (name, refused.stderr)
        assert "Traceback" not in refused.stderr
    assert run(["users", "list", *data]).stdout.split("\n")[:-1] == ["zoë\tuser"]


def test_users_honour_options_before_and_after_the_subcommand(tmp_path):
    """Options given before `users` are not reset by the subcommand's defaults."""
    url = f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}"
    work = tmp_path / "cwd"
    work.mkdir()
    made = subprocess.run(SERVER + ["--database", url, "users", "add", "erin", "--password", "pw", "--create"],
                          capture_output=True, text=True, timeout=60, cwd=work)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "elsewhere.sqlite3").exists() and not (work / "var").exists()
    for args in (["--database", url, "users", "list"], ["users", "list", "--database", url],
                 ["--data-dir", "/nonexistent", "users", "list", "--database", url]):
        listed = subprocess.run(SERVER + args, capture_output=True, text=True, timeout=60, cwd=work)
        assert listed.returncode == 0 and "erin\tuser" in listed.stdout, (args, listed.stderr)
    assert not (work / "var").exists()


@pytest.mark.parametrize("where", ["--data-dir", "--database"])
def test_users_refuse_a_database_no_server_started_on(tmp_path, where):
    target = str(tmp_path / "d") if where == "--data-dir" else f"sqlite:///{tmp_path / 'new.sqlite3'}"
    for command in (["add", "frank", "--password", "pw"], ["list"], ["delete", "frank"]):
        refused = run([where, target, "users", *command])
        assert refused.returncode == 2, refused.stderr
        assert "no cloud has used the database" in refused.stderr and "--create" in refused.stderr
        assert "Traceback" not in refused.stderr
    assert list(tmp_path.iterdir()) == []                  # no file, no directory made


def test_users_add_on_a_database_a_server_started_on(tmp_path, postgresql_url):
    """PostgreSQL: refused on an empty database, accepted with --create, then without it."""
    import peewee
    name = "users_" + uuid.uuid4().hex[:8]
    server = peewee.PostgresqlDatabase("postgres", **_pg_options(postgresql_url))
    server.execute_sql(f"CREATE DATABASE {name}")
    server.close()
    url = postgresql_url.rsplit("/", 1)[0] + "/" + name
    refused = run(["--database", url, "users", "add", "gina", "--password", "pw"])
    assert refused.returncode == 2 and "no cloud has used the database" in refused.stderr
    assert run(["--database", url, "users", "add", "gina", "--password", "pw", "--create"]).returncode == 0
    assert run(["--database", url, "users", "add", "hal", "--password", "pw"]).returncode == 0
    assert "hal\tuser" in run(["users", "list", "--database", url]).stdout


def _pg_options(url):
    from urllib.parse import urlparse
    parts = urlparse(url)
    return {"host": parts.hostname, "port": parts.port, "user": parts.username}


@pytest.mark.parametrize("refuse", [["--no-create-pool"], {"CIMI_CREATE_POOL": "0"}])
def test_missing_pool_refuses_to_start_with_a_clear_message(tmp_path, refuse):
    options, env = (refuse, None) if isinstance(refuse, list) else ([], refuse)
    result = run(["--data-dir", str(tmp_path), "--libvirt-uri", f"test://{TEST_NODE}", "--image-pool", "nope",
                  "--bind", f"127.0.0.1:{free_port()}", *options], env=env)
    assert result.returncode == 2
    assert "storage pool 'nope' does not exist" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("args,env,message", [
    (["--domain-type", "kvm"], {}, "offers no 'kvm' domains (it offers test)"),      # the host lacks it
    ([], {"CIMI_DOMAIN_TYPE": "qemu"}, "offers no 'qemu' domains"),
    ([], {"CIMI_DOMAIN_TYPE": "xen"}, "CIMI_DOMAIN_TYPE must be one of auto, kvm, qemu"),
    (["--domain-type", "tcg"], {}, "invalid choice: 'tcg'"),
])
def test_domain_type_the_host_cannot_run_refuses_to_start(tmp_path, args, env, message):
    result = run(["--data-dir", str(tmp_path), "--libvirt-uri", f"test://{TEST_NODE}",
                  "--bind", f"127.0.0.1:{free_port()}", *args], env)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.fixture
def live_server(tmp_path):
    """The real server process on loopback, configured from the environment only."""
    port = free_port()
    env = {**os.environ, "CIMI_BIND": f"127.0.0.1:{port}", "CIMI_DATA_DIR": str(tmp_path),
           "CIMI_LIBVIRT_URI": f"test://{TEST_NODE}", "CIMI_ADMIN_PASSWORD": ""}
    env.pop("CIMI_ADMIN_PASSWORD")
    proc = subprocess.Popen(SERVER, env=env, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        lines.append(line)
        if "Serving on" in line:
            break
    else:
        proc.kill()
        pytest.fail("server did not start: " + "".join(lines))
    password = next(l for l in lines if "generated password" in l).split("password: ")[1].split()[0]
    yield f"http://127.0.0.1:{port}", password, lines
    proc.terminate()
    proc.wait(10)


def call(method, url, password, body=None, accept="application/json"):
    headers = {"Authorization": "Basic " + base64.b64encode(f"admin:{password}".encode()).decode(),
               "Accept": accept}
    data = None
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def test_first_start_over_real_http(live_server):
    """The README's walk: entry point, a Machine from the seeds in JSON, read back in XML."""
    base, password, log_lines = live_server
    assert sum("generated password" in line for line in log_lines) == 1
    status, headers, body = call("GET", base + "/cimi/", password)
    cep = json.loads(body)
    assert status == 200 and headers["CIMI-Specification-Version"] == "1.0.1"
    assert cep["baseURI"] == base + "/cimi/"
    configs = json.loads(call("GET", cep["machineConfigs"]["href"], password)[2])["machineConfigurations"]
    assert sorted(c["name"] for c in configs) == ["large", "medium", "small"]
    images = json.loads(call("GET", cep["machineImages"]["href"], password)[2])["machineImages"]
    assert images[0]["state"] == "AVAILABLE"
    status, headers, body = call("POST", cep["machines"]["href"], password, {
        "name": "web1", "machineTemplate": {"machineConfig": {"href": configs[0]["id"]},
                                            "machineImage": {"href": images[0]["id"]}}})
    assert status == 202 and headers["Location"].startswith(base + "/cimi/machines/")
    deadline = time.monotonic() + 20
    while json.loads(call("GET", headers["CIMI-Job-URI"], password)[2])["state"] not in ("SUCCESS", "FAILED"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    status, _, xml = call("GET", headers["Location"], password, accept="application/xml")
    assert status == 200 and b"<state>STARTED</state>" in xml and b"<name>web1</name>" in xml
    status, headers, _ = call("GET", base + "/cimi/machines", "wrong-password")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")


def test_users_add_to_groups_and_delete_a_group(tmp_path):
    """Groups come from `users add --group`; `users delete-group` removes one and what was shared with it."""
    data = ["--data-dir", str(tmp_path)]
    added = run(["users", "add", "ivy", "--password", "pw", "--group", "devs", "--group", "ops", "--create", *data])
    assert added.returncode == 0 and "user ivy saved in devs, ops" in added.stdout, added.stderr
    assert "ivy\tuser\tdevs,ops" in run(["users", "list", *data]).stdout.split("\n")
    assert run(["users", "delete-group", "devs", *data]).returncode == 0
    assert "ivy\tuser\tops" in run(["users", "list", *data]).stdout.split("\n")
    missing = run(["users", "delete-group", "devs", *data])
    assert missing.returncode == 1 and "no group devs" in missing.stderr
    refused = run(["users", "add", "ivy", "--password", "pw", "--group", "a:b", *data])
    assert refused.returncode == 2 and "group name 'a:b' refused" in refused.stderr
