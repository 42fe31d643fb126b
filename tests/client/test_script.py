"""The installed `cimi` script in a subprocess: exit codes, and the progress bar on a terminal only."""
import json
import os
import pty
import select
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = shutil.which("cimi", path=str(Path(sys.executable).parent)) or str(Path(sys.executable).parent / "cimi")
BAR = "━"   # rich's bar glyph


@pytest.fixture
def script_env(env):
    return {**os.environ, "TERM": "xterm", "COLUMNS": "120"}


def test_installed_script_runs_and_fails_with_the_server_message(script_env):
    proc = subprocess.run([SCRIPT, "--output", "json", "configs", "list"], env=script_env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert sorted(c["name"] for c in json.loads(proc.stdout)["machineConfigurations"]) == ["large", "medium",
                                                                                          "small"]
    proc = subprocess.run([SCRIPT, "--password", "nope", "machines", "list"], env=script_env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "wrong user name or password" in proc.stderr and proc.stdout == ""


def run_in_pty(argv, env):
    """Run with stdin/stdout/stderr on a pseudo-terminal; return (exit status, everything it wrote)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            proc.kill()
            raise AssertionError("no output for 60s")
        try:
            data = os.read(master, 65536)
        except OSError:   # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


def test_progress_bar_on_a_terminal(script_env):
    rc, text = run_in_pty([SCRIPT, "machines", "create", "ptyvm", "--config", "small", "--image", "blank",
                           "--address-timeout", "0"], script_env)   # no guest here to lease an address
    assert rc == 0, text
    assert "creating machine ptyvm" in text and BAR in text and "100%" in text
    assert "STARTED" in text


def test_no_progress_when_piped(script_env):
    proc = subprocess.run([SCRIPT, "machines", "create", "pipedvm", "--config", "small", "--image", "blank"],
                          env=script_env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert BAR not in proc.stdout and "creating machine" not in proc.stdout and "\x1b[" not in proc.stdout
    assert "STARTED" in proc.stdout


def test_jobs_wait_shows_progress_on_a_terminal_only(script_env, client):
    body = client.machine_body("w2", config="small", image="blank")
    result = client.create("machines", body)
    rc, text = run_in_pty([SCRIPT, "jobs", "wait", result.job], script_env)
    assert rc == 0 and BAR in text and "SUCCESS" in text, text
    proc = subprocess.run([SCRIPT, "jobs", "wait", result.job], env=script_env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and proc.stderr == "" and BAR not in proc.stdout and "SUCCESS" in proc.stdout


def test_image_upload_shows_the_bytes_going_out_on_a_terminal(script_env, tmp_path):
    disk = tmp_path / "updisk.raw"
    disk.write_bytes(b"\0" * (4 << 20))
    rc, text = run_in_pty([SCRIPT, "images", "upload", str(disk)], script_env)
    assert rc == 0, text
    assert "uploading updisk.raw" in text and BAR in text and "4.2 MB" in text and "AVAILABLE" in text


def test_package_upload_shows_the_bytes_going_out_on_a_terminal(script_env, tmp_path):
    from tests.client.test_cli import OVF_DATA
    rc, text = run_in_pty([SCRIPT, "import", str(OVF_DATA / "glance__testserver.ova"), "--no-wait"], script_env)
    assert rc == 0, text
    assert "uploading glance__testserver.ova" in text and BAR in text and "job" in text
