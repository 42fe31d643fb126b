"""Meters and their provider-defined templates and configurations (DSP0263 5.17.3-5.17.7): declarations.

Samples and usage are computed from the Events on each read (cimi/ops/meters.py).
"""
from cimi.ops import meters
from cimi.registry import Kind, View, register
from cimi.vocabulary import extension_uri

register(Kind("MeterConfiguration", "meterConfigs", create_schema="MeterConfiguration", provider_only=True))
register(Kind("MeterTemplate", "meterTemplates", create_schema="MeterTemplate", provider_only=True))
register(Kind("Meter", "meters", create_schema="MeterCreate", create=meters.prepare, editable=False,
              views={"samples": View("samples", extension_uri("samples"), meters.samples, "application/json")}))
