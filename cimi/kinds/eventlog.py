"""EventLog and its events (DSP0263 5.17.8, 5.17.13): read-only; the store writes them (cimi/store/events.py)."""
from cimi.registry import Kind, register

register(Kind("EventLog", "eventLogs", editable=False, deletable_states=frozenset(),
              capabilities=(("Linked", "false", "an EventLog outlives its resource (usage is derived from it)"),)))
register(Kind("Event", "events", parent="EventLog", editable=False, deletable_states=frozenset()))
