"""Credential: a user name and password, or an SSH public key, given to Machines.

Passwords are stored for the guest but never shown (`x-secret` in the schema).
"""
import binascii

from cimi import errors, templates
from cimi.crud import Created
from cimi.registry import Kind, register


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


def _create(ctx, body, parent):
    value = templates.by_value(ctx, "CredentialTemplate", body["credentialTemplate"], "credentialTemplate")
    data = {k: v for k, v in value.items() if k in ("userName", "password", "key", "publicKey")}
    ssh_keys(data)
    return Created({"data": data})


register(Kind("Credential", "credentials", create_schema="CredentialCreate", create=_create,
              capabilities=(("CredentialTemplateByValue", "true", "credentialTemplate may be given by value"),)))
