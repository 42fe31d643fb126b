"""EventLog and its events (DSP0263 5.17.8, 5.17.13): read-only; the store writes them (cimi/store/events.py).

An EventLog's `usage` (an extension view) is what its resources used over a period (cimi/ops/meters.py).
"""
from cimi.ops import events, meters
from cimi.registry import Kind, View, register
from cimi.vocabulary import extension_uri

register(Kind("EventLog", "eventLogs", editable=False, deletable_states=frozenset(), shown=events.summary,
              views={"usage": View("usage", extension_uri("usage"), meters.usage, "application/json")},
              capabilities=(("Linked", "false", "an EventLog outlives its resource (usage is derived from it)"),)))
register(Kind("Event", "events", parent="EventLog", editable=False, deletable_states=frozenset()))
