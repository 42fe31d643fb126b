"""Sharing in the console: alice shares an image with bob, bob sees it read-only, unsharing hides it."""
import base64
import json
import urllib.request

import pytest

from tests.ui.test_access import UNLABELLED
from tests.ui.conftest import api, first_id

pytestmark = pytest.mark.ui


def uploaded_image(server, user, password, name):
    """alice's own MachineImage, uploaded as a script would (the bytes POSTed), its Job finished."""
    base = server.split("/cimi/")[0]
    req = urllib.request.Request(f"{base}/cimi/machineImages?name={name}", data=b"\0" * 65536, method="POST", headers={
        "Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode(),
        "Accept": "application/json", "Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        job, location = resp.headers["CIMI-Job-URI"], resp.headers["Location"]
        json.loads(resp.read())
    for _ in range(200):
        _, _, doc = api(server, user, password, "GET", job)
        if doc["state"] in ("SUCCESS", "FAILED"):
            assert doc["state"] == "SUCCESS", doc
            return location
    raise AssertionError("the upload's Job never ended")


def sideways_on_a_phone(console):
    """How far the page or a table scrolls sideways at 390 px wide (more than 0: a reader must scroll)."""
    console.driver.set_window_size(390, 844)
    try:
        return max(console.driver.execute_script("""
            return [document.documentElement, ...document.querySelectorAll('.table-wrap')]
              .map(el => el.scrollWidth - el.clientWidth);"""))
    finally:
        console.driver.set_window_size(1280, 900)


def names(server, user, password, key):
    _, _, doc = api(server, user, password, "GET", f"/cimi/{key}")
    return {item["name"] for k, v in doc.items() if isinstance(v, list) and k != "operations" for item in v}


def rules(server, href):
    _, _, doc = api(server, "alice", "alice-pw", "GET", href)
    return [r["principal"] for r in (doc.get("acl") or {}).get("rules", [])]


def test_alice_shares_an_image_with_bob_who_sees_it_read_only_until_she_unshares_it(console, server):
    image = uploaded_image(server, "alice", "alice-pw", "mine")
    console.sign_in("alice", "alice-pw")
    console.go("images")
    row = console.row("mine")
    assert "share" in row.text
    console.wait.until(lambda d: console.row("mine").find_element("css selector", "summary").is_displayed())
    console.row("mine").find_element("css selector", "summary").click()
    assert console.driver.execute_script(UNLABELLED) == []         # the share form is labelled
    console.by_label("User or group name").send_keys("nobody")
    console.button("share mine").click()
    console.until_text("acl/rules: no user nobody", "main form.share")       # the server's reason, in the form
    assert rules(server, image) == []
    name = console.by_label("User or group name")
    name.clear()
    name.send_keys("bob")
    console.shot("image-share")
    console.button("share mine").click()
    console.job_done("share mine with user:bob")
    console.wait.until(lambda d: "user:bob" in console.row("mine").text)
    assert rules(server, image) == ["user:bob"]
    console.row("mine").find_element("css selector", "summary").click()      # the form open, on a phone
    assert sideways_on_a_phone(console) <= 0, "images with their shares scroll sideways on a phone"
    assert "mine" in names(server, "bob", "bob-pw", "machineImages")

    console.sign_in("bob", "bob-pw")
    console.go("images")
    row = console.row("mine")
    console.wait.until(lambda d: "shared by alice" in console.row("mine").text)
    assert not console.all("summary", row) and not console.all("button", row)   # read-only for bob: nothing offered
    assert "blank" in console.text("main table")                                # the provider's image stays
    console.go("machines")
    console.expand("Create a machine")
    console.choose("Image", "mine")                                             # bob may build from it

    console.sign_in("alice", "alice-pw")
    console.go("images")
    console.button("unshare mine from user:bob").click()
    console.job_done("unshare mine from user:bob")
    console.wait.until(lambda d: "user:bob" not in console.row("mine").text)
    assert rules(server, image) == []
    assert "mine" not in names(server, "bob", "bob-pw", "machineImages")

    console.sign_in("bob", "bob-pw")
    console.go("images")
    console.row("blank")
    assert "mine" not in console.text("main table")


def test_templates_are_shared_with_everyone_and_a_bad_group_changes_nothing(console, server):
    _, headers, _ = api(server, "alice", "alice-pw", "POST", "/cimi/machineTemplates", {
        "name": "web", "machineConfig": {"href": first_id(server, "machineConfigs")},
        "machineImage": {"href": first_id(server, "machineImages")}})
    _, headers, _ = api(server, "alice", "alice-pw", "POST", "/cimi/systemTemplates", {
        "name": "stack", "componentDescriptors": [{"name": "web1", "type": "http://schemas.dmtf.org/cimi/1/Machine",
                                                   "machineTemplate": {"href": headers["Location"]}}]})
    stack = headers["Location"]
    console.sign_in("alice", "alice-pw")
    console.go("templates")
    console.row("web").find_element("css selector", "summary").click()
    console.choose("Share with", "everyone")
    assert not console.by_label("Share with").find_element("xpath", "../..").find_element(
        "css selector", "input").is_displayed()                         # no name asked for everyone
    console.button("share web").click()
    console.job_done("share web with everyone")
    console.wait.until(lambda d: "everyone" in console.row("web").text)
    assert "web" in names(server, "bob", "bob-pw", "machineTemplates")

    console.row("stack").find_element("css selector", "summary").click()
    console.choose("Share with", "a group")
    console.by_label("User or group name").send_keys("nogroup")
    console.button("share stack").click()
    console.until_text("nogroup", "main form.share .form-message")
    assert rules(server, stack) == []
    assert "stack" not in names(server, "bob", "bob-pw", "systemTemplates")


def test_the_share_form_suggests_the_names_the_api_shows(console, server):
    """An admin is offered every user and group (from `users`); alice, who reads only her own record, herself."""
    image = uploaded_image(server, "alice", "alice-pw", "suggested")
    _, _, found = api(server, "admin", "admin-pw", "GET", "/cimi/users?$filter=name='bob'")
    api(server, "admin", "admin-pw", "PUT", found["users"][0]["id"] + "?$select=groups", {"groups": ["devs"]})

    def offered(kind):
        console.choose("Share with", kind)
        return console.until(lambda d: [o.get_attribute("value") for o in
                                        console.all("datalist option", console.row("suggested"))] or None,
                             message=f"no suggestions for {kind}")

    console.sign_in("admin", "admin-pw")
    console.go("images")
    console.row("suggested").find_element("css selector", "summary").click()
    assert offered("a user") == ["admin", "alice", "bob"]
    assert offered("a group") == ["devs"]
    console.sign_in("alice", "alice-pw")
    console.go("images")
    console.row("suggested").find_element("css selector", "summary").click()
    assert offered("a user") == ["alice"]
    assert rules(server, image) == []                       # suggesting shares nothing
