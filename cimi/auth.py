"""Users, salted password hashes, and HTTP Basic authentication.

Passwords are hashed with scrypt; a verified (user, password) pair is cached
by its SHA-256 so that a busy client does not pay scrypt on every request.
"""
import base64
import getpass
import binascii
import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass

from cimi import errors, store
from cimi.ops import users as accounts
from cimi.store import events as stored_events
from cimi.store import users as stored_users

_CACHE_TTL = 300
_FAILED_LIMIT = 10          # failed logins per (user, address) per window
_FAILED_WINDOW = 60


def add_user(name, password, admin=False, groups=()):
    """Add a user (or change their password and admin flag), and put them in `groups` (sharing reaches groups).

    Raises errors.BadRequest for a name, group or password the API would refuse too.
    """
    accounts.check_name(name)
    accounts.check_groups(groups)
    if not password:
        raise errors.BadRequest("a user needs a password")
    with store.transaction():
        stored_users.put(name, accounts.new_secret(password), admin, groups)
        _recorded("add user", name, f"{name} {'(admin)' if admin else ''} in groups: {', '.join(groups) or 'none'}")


def delete_user(name):
    """Delete a user who owns nothing, and what was shared with them (and with the groups only they were in).

    Raises errors.Conflict while they own resources.
    """
    with store.transaction():
        _recorded("delete user", name, f"{name} deleted")
        return accounts.remove(name)


def delete_group(name):
    """Delete a group and what was shared with it; return how many members it had."""
    with store.transaction():
        _recorded("delete group", None, f"group {name} deleted")
        return stored_users.remove_group(name)


def _recorded(operation, user, detail):
    """User management is done on the server's host (`cimi-server users`): an admin action, in the provider's log."""
    stored_events.record(stored_events.ACCESS, {"operation": operation, "initiator": f"host:{getpass.getuser()}",
                                                "user": user, "detail": detail.replace("  ", " ")})


def users():
    return stored_users.all_users()


def groups_of(name):
    return stored_users.groups_of(name)


def ensure_admin(log):
    """On a first start with no users, create `admin` (password from CIMI_ADMIN_PASSWORD or generated)."""
    if stored_users.any_user():
        return
    password = os.environ.get("CIMI_ADMIN_PASSWORD")
    if password:
        add_user("admin", password, admin=True)
        log.warning("created user 'admin' with the password from CIMI_ADMIN_PASSWORD")
    else:
        password = secrets.token_urlsafe(12)
        add_user("admin", password, admin=True)
        log.warning("created user 'admin' with the generated password: %s (shown once)", password)


@dataclass(frozen=True)
class Visitor:
    """A client without credentials: it may read the public CloudEntryPoint, nothing else."""
    name: str = ""
    admin: bool = False


VISITOR = Visitor()


class Authenticator:
    """Check Basic credentials; rate-limit failures per user and address."""

    def __init__(self):
        self._verified = {}
        self._failures = {}
        self._lock = threading.Lock()

    def user(self, header, address):
        if not header or not header.startswith("Basic "):
            raise errors.Unauthorized()
        try:
            name, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (binascii.Error, ValueError):          # not base64, not ASCII, not UTF-8
            raise errors.Unauthorized("malformed Basic credentials") from None
        now = time.monotonic()
        # Before the cache: a locked-out guesser must not learn that a guess is the password a
        # signed-in user's requests keep cached (a 200 among 429s).
        self._check_rate(name, address, now)
        # The cache is keyed by a digest of the header, so no password is kept in memory.
        digest = hashlib.sha256(header.encode("utf-8", "surrogateescape")).digest()
        cached = self._verified.get(digest)
        changes = stored_users.changes()        # a user changed through this process: check again
        if cached and cached[1] > now and cached[2] == changes:
            return cached[0]
        user = stored_users.get(name)
        if user is None or not hmac.compare_digest(accounts.hash_password(password, user.salt), user.hash):
            with self._lock:
                key = (name, address)
                self._failures[key] = [t for t in self._failures.get(key, []) if t > now - _FAILED_WINDOW] + [now]
            stored_events.record(stored_events.ACCESS, {
                "operation": "sign-in", "initiator": name,
                "detail": f"wrong user name or password for {name!r} from {address}"},
                severity="medium", outcome="Failure")
            raise errors.Unauthorized("wrong user name or password")
        with self._lock:
            self._verified[digest] = (user, now + _CACHE_TTL, changes)
            self._failures.pop((name, address), None)
        return user

    def _check_rate(self, name, address, now):
        with self._lock:
            recent = [t for t in self._failures.get((name, address), []) if t > now - _FAILED_WINDOW]
        if len(recent) >= _FAILED_LIMIT:
            raise errors.TooManyRequests("too many failed logins; wait a minute",
                                         headers={"Retry-After": str(_FAILED_WINDOW)})
