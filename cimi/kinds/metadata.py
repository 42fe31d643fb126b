"""ResourceMetadata: one read-only row per kind, written at start by cimi/ops/metadata.py."""
from cimi.registry import Kind, register

register(Kind("ResourceMetadata", "resourceMetadata", editable=False, provider_only=True,
              deletable_states=frozenset()))
