"""User (a provider extension): who signs in; administrators add, change and delete them, a user changes their password (cimi/ops/users.py)."""
from cimi.ops import users
from cimi.registry import Kind, register

register(Kind("User", "users", create_schema="User", provider_only=True, own_edits=("password",),
              create=users.prepare, edited=users.edited, delete=users.delete))
