"""Credential operations: the logins a Credential gives a guest.

Passwords are stored for the guest but never shown (`x-secret` in the schema);
a Machine's guest gets only their SHA-512 crypt hash.
"""
import binascii
import subprocess

from cimi import errors, templates
from cimi.ops.resources import Created


def ssh_keys(credential):
    """Return the OpenSSH public key lines a Credential carries."""
    keys = []
    if credential.get("publicKey"):
        keys.append(credential["publicKey"])
    if credential.get("key"):
        try:
            keys.append(binascii.unhexlify(credential["key"]).decode())
        except (binascii.Error, UnicodeDecodeError):
            raise errors.BadRequest("Credential key must be hexBinary of an OpenSSH public key") from None
    return keys


def guest_user(credential):
    """Return the login a Credential gives a guest: {name, keys, passwordHash}; None if it gives none."""
    user = {"name": credential.get("userName") or None, "keys": ssh_keys(credential),
            "passwordHash": password_hash(credential["password"]) if credential.get("password") else None}
    return user if user["keys"] or user["passwordHash"] or user["name"] else None


def password_hash(password):
    """Return the SHA-512 crypt(3) hash of a password, the form /etc/shadow and cloud-init take.

    NOTE: Python's crypt module is deprecated and gone in 3.13; openssl is part of
    every Debian system.
    """
    if "\n" in password or "\r" in password:
        raise errors.BadRequest("a Credential password with a line break cannot be given to a guest")
    done = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password.encode(),
                          capture_output=True, check=True)
    return done.stdout.decode().strip()


def prepare(ctx, body, parent):
    """Check a Credential create request; a Credential is data only (no Job)."""
    value = templates.by_value(ctx, "CredentialTemplate", body["credentialTemplate"], "credentialTemplate")
    data = {k: v for k, v in value.items() if k in ("userName", "password", "key", "publicKey")}
    ssh_keys(data)
    return Created({"data": data})
