"""docs/clients.md runs as written: its `sh` blocks through bash, its `python` blocks through Python.

Blocks with another info string are not run here: `sh setup` (the test gives the same
settings itself), `ini` (checked as a config file below), `sh guest` (it needs a booted guest:
test_guest_clients.py runs it on qemu) and `sh ssh` (it needs a guest with an SSH server).
"""
import os
import re
import subprocess
import sys
from pathlib import Path

from cimiclient import NS

DOC = Path(__file__).parent.parent.parent / "docs" / "clients.md"
BIN = str(Path(sys.executable).parent)


def blocks(info: str) -> list:
    return [body for tag, body in re.findall(r"^```([^\n]*)\n(.*?)^```", DOC.read_text(), re.M | re.S)
            if tag.strip() == info]


def shell(script: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_the_documented_settings_are_the_ones_read(env, tmp_path, client):
    [setup] = blocks("sh setup")
    assert {"CIMI_ENDPOINT", "CIMI_USER", "CIMI_PASSWORD"} <= set(re.findall(r"CIMI_\w+", setup))
    [ini] = blocks("ini")
    config = tmp_path / "config.ini"
    config.write_text(ini.replace("http://127.0.0.1:8080/cimi/", env).replace("s3cret", "alice-pw"))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CIMI_")}
    proc = shell("cimi configs list", {**clean, "PATH": BIN + os.pathsep + os.environ["PATH"],
                                        "CIMI_CONFIG": str(config)}, tmp_path)
    assert proc.returncode == 0 and "small" in proc.stdout, proc.stderr


def test_the_everyday_commands_run(env, tmp_path, client):
    config, image = client.find("machineConfigs", "small")["id"], client.find("machineImages", "blank")["id"]
    client.create("systemTemplates", {"resourceURI": NS + "SystemTemplate", "name": "shop-tpl",   # cimi import's
                                      "componentDescriptors": [{"type": NS + "Machine", "name": "shop-web",
                                                                "machineTemplate": {
                                                                    "machineConfig": {"href": config},
                                                                    "machineImage": {"href": image}}}]})
    env_vars = {**os.environ, "PATH": BIN + os.pathsep + os.environ["PATH"]}
    scripts = blocks("sh")
    assert len(scripts) == 3
    outputs = []
    for script in scripts:
        proc = shell(script, env_vars, tmp_path)
        assert proc.returncode == 0, f"{script}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        outputs.append(proc.stdout)
    assert "ADDRESSES" in outputs[0] and "web1:vdb" in outputs[0]
    assert "shop-web (STARTED)" in outputs[2]
    machine = client.find("machines", "web1")
    assert machine["state"] == "STOPPED" and machine["properties"]["credential"]
    assert client.find("credentials", "web1-key")["userName"] == "deploy"
    assert client.find("machineImages", "web2-image")["state"] == "AVAILABLE"
    assert client.find("volumeImages", "data-snap")["state"] == "AVAILABLE"
    assert client.list("systems") == []


def test_the_libcloud_example_runs(env, tmp_path, client):
    [example] = blocks("python")
    proc = subprocess.run([sys.executable, "-c", example], env=os.environ, cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[:2] == ["lc1", "running"]
    assert (tmp_path / "lc-key.pem").read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert client.list("machines") == [] and client.list("credentials") == [] and client.list("networks") == []
