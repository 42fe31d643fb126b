"""`cimi images|templates|configs share/unshare` and `cimi images upload --public`, on a terminal and in JSON."""
from cimi import auth
from tests.client.test_script import SCRIPT, run_in_pty, script_env  # noqa: F401 (fixture)


def as_user(env, name):
    return {**env, "CIMI_USER": name, "CIMI_PASSWORD": f"{name}-pw"}


def test_images_share_and_unshare_with_a_user_on_a_terminal(run_json, script_env, tmp_path):  # noqa: F811
    disk = tmp_path / "mine.raw"
    disk.write_bytes(b"\0" * 65536)
    image = run_json("images", "upload", disk)
    bob = as_user(script_env, "bob")
    assert run_in_pty([SCRIPT, "images", "show", "mine"], bob)[0] == 1
    rc, text = run_in_pty([SCRIPT, "images", "share", "mine", "--user", "bob"], script_env)
    assert rc == 0 and "shared image mine with user:bob" in text, text
    assert "SHARED WITH" in text and "user:bob" in text
    rc, text = run_in_pty([SCRIPT, "images", "show", "mine"], bob)
    assert rc == 0 and image["id"].rsplit("/", 1)[-1][:8] in text, text
    rc, text = run_in_pty([SCRIPT, "images", "delete", "mine"], bob)
    assert rc == 1 and "delete is not offered on mine" in text, text      # a shared image offers no changes
    rc, text = run_in_pty([SCRIPT, "images", "unshare", "mine", "--user", "bob"], script_env)
    assert rc == 0 and "unshared image mine from user:bob" in text, text
    assert run_in_pty([SCRIPT, "images", "show", "mine"], bob)[0] == 1


def test_templates_share_with_a_group_and_everyone(run, run_json, client, env, monkeypatch):
    auth.add_user("carol", "carol-pw", groups=["devs"])
    body = client.template_body("t-shared", "small", "blank", None, (), (), None, None)
    client.finish(client.create("machineTemplates", body))
    shared = run_json("templates", "share", "t-shared", "--group", "devs")
    assert shared["acl"]["rules"] == [{"principal": "group:devs", "right": "VIEW"}]
    shared = run_json("templates", "share", "t-shared", "--public")
    assert [r["principal"] for r in shared["acl"]["rules"]] == ["group:devs", "everyone"]
    monkeypatch.setenv("CIMI_USER", "bob")
    monkeypatch.setenv("CIMI_PASSWORD", "bob-pw")
    assert run_json("templates", "show", "t-shared")["name"] == "t-shared"
    monkeypatch.setenv("CIMI_USER", "alice")
    monkeypatch.setenv("CIMI_PASSWORD", "alice-pw")
    assert run_json("templates", "unshare", "t-shared", "--public")["acl"]["rules"] == [
        {"principal": "group:devs", "right": "VIEW"}]
    rc, _, err = run("templates", "share", "t-shared", "--user", "bob", "--public")
    assert rc == 2 and "exactly one of --user, --group, --public" in err
    rc, _, err = run("templates", "share", "t-shared", "--user", "nobody")
    assert rc == 1 and "no user nobody" in err


def test_images_upload_public_is_seen_by_everyone(run_json, run, monkeypatch, tmp_path):
    disk = tmp_path / "golden.raw"
    disk.write_bytes(b"\0" * 65536)
    image = run_json("images", "upload", disk, "--public")
    assert image["acl"]["rules"] == [{"principal": "everyone", "right": "VIEW"}]
    monkeypatch.setenv("CIMI_USER", "bob")
    monkeypatch.setenv("CIMI_PASSWORD", "bob-pw")
    rc, out, _ = run("images", "list")
    assert rc == 0 and "golden" in out
