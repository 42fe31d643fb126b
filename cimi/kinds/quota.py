"""Quota (a provider extension): what a user may consume; administrators set it (cimi/ops/quotas.py)."""
from cimi.ops import quotas
from cimi.registry import Kind, register

register(Kind("Quota", "quotas", create_schema="Quota", provider_only=True, create=quotas.prepare,
              shown=quotas.shown))
