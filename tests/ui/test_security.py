"""The console's security as a browser sees it: sign-in, CSP, ACLs, hostile server strings."""
import urllib.error
import urllib.request

import pytest

from tests.ui.conftest import api

pytestmark = pytest.mark.ui
HOSTILE = "<img src=x onerror=alert(1)> [brackets] {curly} \"quoted\" & 'single' " + "long-" * 60 + "end"


def test_sign_in_keeps_credentials_in_the_tab_only(console):
    console.open()
    assert console.find("main h2").text == "Sign in"
    console.shot("signin")
    console.by_label("User name").send_keys("alice")
    console.by_label("Password").send_keys("wrong")
    console.button("Sign in").click()
    console.until_text("Wrong user name or password.")
    console.by_label("Password").send_keys("alice-pw")
    console.button("Sign in").click()
    console.until_text("Signed in as alice", "header")
    assert console.driver.get_cookies() == []                    # nothing a cross-site request could ride on
    stored = console.driver.execute_script("return sessionStorage.getItem('cimi.credentials')")
    assert "alice" in stored and console.driver.execute_script("return localStorage.length") == 0
    console.button("Sign out").click()
    console.until_text("Signed out.")
    assert console.driver.execute_script("return sessionStorage.getItem('cimi.credentials')") is None


def test_static_files_carry_a_strict_policy(server):
    base = server.split("/cimi/")[0]
    with urllib.request.urlopen(base + "/ui/", timeout=10) as resp:        # no credentials needed
        csp = resp.headers["Content-Security-Policy"]
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert b'<script type="module" src="/ui/app.js">' in resp.read()
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    with urllib.request.urlopen(base + "/ui/app.js", timeout=10) as resp:
        assert resp.headers["Content-Type"].startswith("text/javascript")
    for path in ("/ui/../cimi/app.py", "/ui/%2e%2e/app.py", "/ui/nope.js/../../app.py"):
        try:
            with urllib.request.urlopen(base + path, timeout=10) as resp:
                assert b"import" not in resp.read()                   # the fallback page, never a source file
        except urllib.error.HTTPError as exc:
            assert exc.code == 404


def test_the_browser_refuses_inline_script(console):
    console.sign_in("alice", "alice-pw")
    ran = console.driver.execute_script("""
        window.__violations = [];
        document.addEventListener('securitypolicyviolation', e => window.__violations.push(e.violatedDirective));
        const s = document.createElement('script');
        s.textContent = 'window.__inline = 1';
        document.head.append(s);
        return window.__inline === 1;""")
    assert ran is False
    console.wait.until(lambda d: d.execute_script("return window.__violations.length") > 0)
    assert console.driver.execute_script("return window.__violations[0]").startswith("script-src")
    logged = [e["message"] for e in console.driver.get_log("browser")]      # (read here, so the fixture's
    assert any("violates the following Content Security Policy" in m for m in logged)   # check sees none)


def test_a_script_gets_no_basic_challenge(server):
    machines = server.rstrip("/") + "/machines"            # (the entry point itself is public)
    req = urllib.request.Request(machines, headers={"X-Requested-With": "XMLHttpRequest"})
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(req, timeout=10)
    assert raised.value.code == 401 and "WWW-Authenticate" not in raised.value.headers
    with pytest.raises(urllib.error.HTTPError) as raised:                  # other clients still get it
        urllib.request.urlopen(machines, timeout=10)
    assert raised.value.headers["WWW-Authenticate"] == 'Basic realm="cimi"'


def test_hostile_names_render_as_text(console, server):
    api(server, "alice", "alice-pw", "POST", "/cimi/networks", {
        "name": HOSTILE, "networkTemplate": {"networkConfig": {"networkType": "PRIVATE", "cidr": "10.213.7.0/24"}}})
    console.sign_in("alice", "alice-pw")
    console.go("networks")
    row = console.row(HOSTILE)
    assert row.find_element("css selector", "td").text == HOSTILE
    assert console.all("main img") == []                 # no element was made from the name
    from selenium.common.exceptions import NoAlertPresentException
    with pytest.raises(NoAlertPresentException):
        console.driver.switch_to.alert.text


def test_a_user_sees_only_their_own_resources(console, server):
    for user, password, cidr in (("admin", "admin-pw", "10.213.8.0/24"), ("bob", "bob-pw", "10.213.9.0/24"),
                                 ("alice", "alice-pw", "10.213.10.0/24")):
        api(server, user, password, "POST", "/cimi/networks", {
            "name": f"{user}-net", "networkTemplate": {"networkConfig": {"networkType": "PRIVATE", "cidr": cidr}}})
    console.sign_in("alice", "alice-pw")
    console.go("networks")
    console.row("alice-net")
    names = [tr.find_element("css selector", "td").text for tr in console.all("main tbody tr")]
    assert "bob-net" not in names and "admin-net" not in names
    console.sign_in("admin", "admin-pw")     # admins see everything, as in the API
    console.go("networks")
    for name in ("alice-net", "bob-net", "admin-net"):
        console.row(name)


def test_a_user_deleted_meanwhile_is_sent_back_to_sign_in(console, cloud):
    from cimi import auth
    console.sign_in("bob", "bob-pw")
    console.go("networks")
    auth.delete_user("bob")
    console.button("Apply").click()                        # the next request gets a 401
    console.until_text("Your session ended: sign in again.")
    assert console.find("main h2").text == "Sign in"
    assert console.driver.execute_script("return sessionStorage.getItem('cimi.credentials')") is None
