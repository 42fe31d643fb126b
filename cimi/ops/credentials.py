"""Credential operations: the logins a Credential gives a guest.

Passwords are stored for the guest but never shown (`x-secret` in the schema);
a Machine's guest gets only their SHA-512 crypt hash.
"""
import binascii
import re
import subprocess

from cimi import errors, templates
from cimi.ops.resources import Created


# What cloud-init can give a guest: a POSIX login name, and OpenSSH public key lines ("type base64 [comment]").
USER_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
KEY_LINE = re.compile(r"(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)"
                      r"@openssh\.com) [A-Za-z0-9+/]+={0,2}( [^\r\n]*)?")


def checked(data):
    """Refuse (400) a login the guest could never use: a bad user name or a line that is no public key."""
    if data.get("userName") and not USER_NAME.fullmatch(data["userName"]):
        raise errors.BadRequest(f"userName {data['userName'][:40]!r} is not a login a guest can have: lower-case "
                                "letters, digits, '_' and '-', starting with a letter or '_', 32 at most")
    for line in ssh_keys(data):
        if not KEY_LINE.fullmatch(line.strip()):
            raise errors.BadRequest(f"{line.strip()[:40]!r} is not an OpenSSH public key line "
                                    "(such as 'ssh-ed25519 AAAAC3Nza... user@host')")
    return data


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
    return Created({"data": checked(data)})
