"""Authentication: failed logins are rate-limited per user and address; passwords never reach the log."""
import base64
import logging

from tests.conftest import Client


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_failed_logins_are_limited_per_user_and_address(app):
    for _ in range(10):
        assert app.simulate_get("/cimi/", headers=basic("alice", "guess")).status_code == 401
    limited = app.simulate_get("/cimi/", headers=basic("alice", "alice-pw"))      # even the right one, now
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert limited.json["state"] == "FAILED" and "failed logins" in limited.json["statusMessage"]
    assert app.simulate_get("/cimi/", headers=basic("bob", "bob-pw")).status_code == 200        # other users
    other = app.simulate_get("/cimi/", headers=basic("alice", "alice-pw"), remote_addr="10.1.2.3")
    assert other.status_code == 200                                                             # other address


def test_a_locked_out_guesser_learns_nothing_from_a_signed_in_users_cache(app):
    """The right password, cached for alice's busy client, is refused too while her address is locked out."""
    assert app.simulate_get("/cimi/", headers=basic("alice", "alice-pw")).status_code == 200     # cached now
    for _ in range(10):
        assert app.simulate_get("/cimi/", headers=basic("alice", "guess")).status_code == 401
    assert [app.simulate_get("/cimi/", headers=basic("alice", password)).status_code
            for password in ("guess-11", "alice-pw", "guess-12")] == [429, 429, 429]


def test_passwords_never_reach_the_log(app, caplog):
    caplog.set_level(logging.DEBUG)
    app.simulate_get("/cimi/", headers=basic("alice", "wrong-secret-1"))
    alice = Client(app, "alice", "alice-pw")
    alice.post(alice.cep()["credentials"]["href"], {"credentialTemplate": {"userName": "root",
                                                                          "password": "guest-secret-2"}})
    text = caplog.text
    assert "wrong-secret-1" not in text and "guest-secret-2" not in text and "alice-pw" not in text
