"""Credential: a user name and password, or an SSH public key, given to Machines (cimi/ops/credentials.py)."""
from cimi.ops import credentials
from cimi.registry import Kind, register

register(Kind("Credential", "credentials", create_schema="CredentialCreate", create=credentials.prepare,
              capabilities=(("CredentialTemplateByValue", "true", "credentialTemplate may be given by value"),)))
