"""Users through the console: an administrator adds, changes and deletes one; others see only themselves."""
import urllib.error

import pytest

from tests.ui.conftest import api

pytestmark = pytest.mark.ui
HOSTILE = "<img src=x onerror=alert(1)> [brackets] " + "long-" * 15 + "end"      # 118 of 128 characters


def signs_in(server, user, password):
    try:
        return api(server, user, password, "GET", "/cimi/cloudEntryPoint")[0] == 200
    except urllib.error.HTTPError as exc:
        assert exc.code == 401
        return False


def add_user_as_admin(console, name, password, groups=""):
    """Fill the admin's Add a user form (left open for a screenshot); the caller submits it."""
    console.sign_in("admin", "admin-pw")
    console.go("users")
    console.expand("Add a user")
    console.by_label("Name").send_keys(name)
    console.by_label("Password").send_keys(password)
    console.by_label("Groups").send_keys(groups)


def test_an_admin_adds_changes_and_deletes_a_user(console, server):
    add_user_as_admin(console, "carol", "carol-pw", "devs, ops")
    console.shot("users")
    console.button("Add user").click()
    assert "succeeded" in console.job_done("add user carol")
    console.wait.until(lambda d: "devs, ops" in console.row("carol").text)
    _, _, found = api(server, "admin", "admin-pw", "GET", "/cimi/users?$filter=name='carol'")
    [carol] = found["users"]
    assert (carol["admin"], carol["groups"]) == (False, ["devs", "ops"])
    assert signs_in(server, "carol", "carol-pw")

    change = console.button("change carol")
    console.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", change)    # above the job tray
    change.click()
    assert console.driver.switch_to.active_element.text == "Change carol"          # focus moved to the form
    console.by_label("New password").send_keys("carol-new")
    console.by_label("Administrator rights").click()
    groups = console.by_label("Group membership")
    groups.clear()
    groups.send_keys("devs")
    console.button("Save").click()
    console.wait.until(lambda d: "administrator" in console.row("carol").text)
    _, _, carol = api(server, "admin", "admin-pw", "GET", carol["id"])
    assert (carol["admin"], carol["groups"]) == (True, ["devs"])
    assert not signs_in(server, "carol", "carol-pw") and signs_in(server, "carol", "carol-new")

    console.button("Delete carol").click()
    console.button("Confirm: delete carol").click()
    assert "succeeded" in console.job_done("delete carol")
    console.until_gone("carol", "main table")
    assert not signs_in(server, "carol", "carol-new")


def test_a_refused_user_shows_the_servers_reason_and_makes_nothing(console, server):
    add_user_as_admin(console, "da:ve", "pw")
    console.button("Add user").click()
    console.until_text("user name 'da:ve' refused", "main details[open] .form-message")   # said in the form,
    assert console.by_label("Name").get_attribute("value") == "da:ve"                  # which keeps the input
    _, _, found = api(server, "admin", "admin-pw", "GET", "/cimi/users")
    assert sorted(u["name"] for u in found["users"]) == ["admin", "alice", "bob"]


def test_a_user_sees_only_themself_and_cannot_manage_users(console, server):
    api(server, "admin", "admin-pw", "POST", "/cimi/users", {"name": HOSTILE, "password": "pw"})
    console.sign_in("alice", "alice-pw")
    console.go("users")
    row = console.row("alice")
    assert "user" in row.text
    assert [r.find_element("css selector", "td").text for r in console.all("main tbody tr")] == ["alice"]
    assert not [s for s in console.all("main summary") if s.is_displayed()]      # no "Add a user"
    assert [b.text for b in row.find_elements("css selector", "button")] == ["change"]   # no delete
    row.find_element("css selector", "button").click()
    assert not console.by_label("New password").get_attribute("value")
    assert not [el for el in console.all("main .admin-only") if el.is_displayed()]    # no admin right, no groups
    console.by_label("New password").send_keys("alice-new")
    console.button("Save").click()
    assert "succeeded" in console.job_done("change user alice")
    assert not signs_in(server, "alice", "alice-pw") and signs_in(server, "alice", "alice-new")
    console.go("keys")
    console.until_text("Nothing here.", "main tbody")                              # a request that succeeded
    assert "Signed in as alice" in console.text("header")                          # still signed in, with the new one
    assert console.by_label("Filter ($filter)").get_attribute("placeholder") == "name!='x'"   # users have no state
    console.sign_in("admin", "admin-pw")
    console.go("users")
    assert console.row(HOSTILE).find_element("css selector", "td").text == HOSTILE
    assert console.all("main img") == []
