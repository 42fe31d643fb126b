"""Server and user text is never markup or escape codes: every table, on a real terminal.

The server refuses control characters in what users send, so the hostile
text is written into the store directly: the CLI must be safe whatever a
provider answers.
"""
import json
import os

import pytest

from cimi import store
from cimiclient import CONSOLE, NS
from tests.client.test_script import SCRIPT, run_in_pty

ATTACK = "[/bad][bold]B[/bold]\x1b]0;pwned\x07\x1b[2J\u202eX:smile:"
HOSTILE = ATTACK + "L" * 400
SHOWN = r"[/bad][bold]B[/bold]\x1b]0;pwned\x07\x1b[2J\u202eX:smile:"
KINDS = {"Machine": "machines", "Volume": "volumes", "Network": "networks", "MachineImage": "images",
         "MachineConfiguration": "configs", "MachineTemplate": "templates", "Credential": "credentials",
         "System": "systems", "SystemTemplate": "system-templates", "Job": "jobs"}
KEEP = {"resourceURI", "id", "operations", "initialLocation"}


def poison(value):
    """Every string in a stored document, hostile (references and private keys left working)."""
    if isinstance(value, dict):
        if "href" in value:
            return value
        return {k: v if k.startswith("_") or k in KEEP else poison(v) for k, v in value.items()}
    if isinstance(value, list):
        return [poison(v) for v in value]
    return HOSTILE if isinstance(value, str) else value


@pytest.fixture
def hostile(client, admin_client, cloud):
    """One resource of every kind the CLI tabulates, all their text hostile; returns their ids."""
    net = client.finish(client.create("networks", client.network_body("n", cidr="10.61.4.0/24")))
    vol = client.finish(client.create("volumes", client.volume_body("v", capacity_kib=1024)))
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3Gd7Nm0cqKJ1nNQp0Z3kq0l7m0X3bq9v1d2y3z4w5x me@host"
    cred = client.finish(client.create("credentials", client.credential_body("c", public_key=key, user="u")))
    machine = client.finish(client.create("machines", client.machine_body(
        "m", config="small", image="blank", networks=[net["id"]], volumes=[(vol["id"], "vdb")],
        credential=cred["id"])))
    client.create("machineTemplates", client.template_body("t", "small", "blank"))
    template = client.create("systemTemplates", {
        "resourceURI": NS + "SystemTemplate", "name": "st", "componentDescriptors": [
            {"type": NS + "Machine", "name": "sm", "machineTemplate": {
                "machineConfig": {"href": client.find("machineConfigs", "small")["id"]},
                "machineImage": {"href": client.find("machineImages", "blank")["id"]}}}]})
    client.finish(client.create("systems", client.system_body("s", template.location)))
    from cimi.store import db
    for kind in KINDS:
        for row in db.model_for(kind).select():
            stored = store.get(kind, row.id)
            data = poison({**stored["data"], **({"statusMessage": "x"} if kind == "Job" else {})})
            store.update(kind, row.id, {"name": HOSTILE, "description": HOSTILE, "data": data})
    return {"machine": machine["id"], "volume": vol["id"]}


def test_every_table_shows_hostile_text_as_text_on_a_terminal(hostile, script_env):
    env = {**script_env, "CIMI_USER": "admin", "CIMI_PASSWORD": "admin-pw", "COLUMNS": "600"}
    for group in KINDS.values():
        rc, text = run_in_pty([SCRIPT, group, "list"], env)
        assert rc == 0, text
        assert "\x1b]" not in text and "\x1b[2J" not in text and "\x07" not in text and "\u202e" not in text
        assert "[/bad][bold]B[/bold]" in text, f"{group} list: brackets shown as they are\n{text}"
        assert SHOWN in text.replace("\r\n", "\n"), f"{group} list: escapes shown escaped\n{text}"
        assert "L" * 100 not in text and "…" in text, f"{group} list: long strings are cut\n{text}"
        first_id = next(line.split()[0] for line in text.splitlines()[2:] if line.strip())
        rc, text = run_in_pty([SCRIPT, group, "show", first_id], env)
        assert rc == 0, text
        assert "\x1b]" not in text and "\x1b[2J" not in text and "\x07" not in text and "\u202e" not in text
        assert "[/bad][bold]B[/bold]" in text, f"{group} show\n{text}"


def test_progress_and_error_messages_escape_hostile_text(hostile, script_env):
    rc, text = run_in_pty([SCRIPT, "machines", "show", ATTACK], script_env)
    assert rc == 1 and "\x1b]" not in text and "\x07" not in text and "\x1b[2J" not in text
    assert "no machines with id or name" in text and "[/bad][bold]B[/bold]" in text and r"\x1b]0;pwned" in text


def test_json_and_xml_are_the_servers_documents_unchanged(run, client):
    """(XML cannot carry control characters, and the server refuses them: brackets and length here.)"""
    name = "[/bad][bold]é" + "L" * 400
    machine = client.finish(client.create("machines", client.machine_body(name, config="small", image="blank")))
    for fmt in ("json", "xml"):
        expected = client.request("GET", machine["id"], fmt=fmt).body
        rc, out, err = run("--output", fmt, "machines", "show", machine["id"])
        assert rc == 0, err
        assert out.encode() == expected.rstrip(b"\n") + b"\n"
        rc, out, err = run("--output", fmt, "machines", "list")
        assert rc == 0 and out.encode() == client.request("GET", "machines", fmt=fmt).body.rstrip(b"\n") + b"\n"
    assert json.loads(run("--output", "json", "machines", "list")[1])["machines"][0]["name"] == name


def test_console_log_escapes_only_on_a_terminal(script_env, run, client, cloud):
    """The guest's bytes as they are into a pipe, escaped on a terminal (CONSOLE contract).

    A server without the console operation gets a clear refusal instead.
    """
    machine = client.finish(client.create("machines", client.machine_body("c1", config="small", image="blank")))
    if client.operation(machine, CONSOLE) is None:
        rc, text = run_in_pty([SCRIPT, "machines", "console", "c1"], script_env)
        assert rc == 1 and "machine c1 offers no console log" in text
        return
    from tests.conftest import console_log       # comes with the console operation
    console_log(cloud, machine).write_bytes(b"boot\n" + ATTACK.encode() + b"\nlogin: ")
    rc, text = run_in_pty([SCRIPT, "machines", "console", "c1", "--tail", "1"], script_env)
    assert rc == 0 and "\x1b]" not in text and "\x07" not in text and "\x1b[2J" not in text
    assert text.replace("\r\n", "\n") == "login: \n"
    rc, text = run_in_pty([SCRIPT, "machines", "console", "c1"], script_env)
    assert rc == 0 and SHOWN in text and "\x1b]" not in text
    rc, out, err = run("machines", "console", "c1")
    assert (rc, err) == (0, "") and out == "boot\n" + ATTACK + "\nlogin: \n", "piped: the log as written"


def test_console_line_ends_of_a_serial_port_show_as_line_ends_on_a_terminal(script_env, client, cloud):
    """A serial console writes CRLF: on a terminal that is a line end, not a shown "\\r"; a lone CR is escaped."""
    machine = client.finish(client.create("machines", client.machine_body("c2", config="small", image="blank")))
    from tests.conftest import console_log
    console_log(cloud, machine).write_bytes(b"boot\r\nready\r\nover\rwritten\r\n")
    rc, text = run_in_pty([SCRIPT, "machines", "console", "c2"], script_env)
    assert rc == 0 and text.replace("\r\n", "\n") == "boot\nready\nover\\rwritten\n", repr(text)


@pytest.fixture
def script_env(env):
    return {**os.environ, "TERM": "xterm", "COLUMNS": "600"}
