"""Meters and their provider-defined templates and configurations (DSP0263 5.17.3-5.17.7): declarations.

Samples and usage are computed from the Events on each read (cimi/ops/meters.py).
"""
from cimi.ops import meters
from cimi.registry import Action, Kind, View, register
from cimi.vocabulary import extension_uri

register(Kind("MeterConfiguration", "meterConfigs", create_schema="MeterConfiguration", provider_only=True))
register(Kind("MeterTemplate", "meterTemplates", create_schema="MeterTemplate", provider_only=True))
# start and stop (DSP0263 5.17.3.2) are done at once: they only say when the Meter records.
register(Kind("Meter", "meters", create_schema="MeterCreate", create=meters.prepare,
              actions={"start": Action("start", frozenset({None}), immediate=meters.start, condition=meters.stopped),
                       "stop": Action("stop", frozenset({None}), immediate=meters.stop, condition=meters.recording)},
              views={"samples": View("samples", extension_uri("samples"), meters.samples, "application/json")}))
