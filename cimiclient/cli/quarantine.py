"""`cimi quarantine`: deleted machines, volumes and images the provider keeps for a while.

A provider extension (the quarantinedResources collection): list them, restore
one at its old URL, or purge it for good before it expires.
"""
import click

from cimiclient.cli.app import cli, pass_state
from cimiclient.cli.common import Listing, attr, conclude, label, list_command, output_option, short, wait_options
from cimiclient import CimiError, short_id

KEY = "quarantinedResources"


@cli.group()
def quarantine():
    """Deleted machines, volumes and images kept until they expire: list, restore, purge."""


def _type(item, context):
    return short_id(item.get("resourceType", ""))


list_command(quarantine, KEY, Listing("quarantined resource", columns=[
    ("ID", short), ("TYPE", _type), ("NAME", attr("name")), ("OWNER", attr("owner")), ("SIZE", attr("size")),
    ("EXPIRES", attr("expires")), ("STATE", attr("state"))]))


def _operation(name, done):
    @quarantine.command(name, help=f"{done.capitalize()} a quarantined resource (by id, URL or name).")
    @click.argument("ident")
    @wait_options
    @output_option
    @pass_state
    def _run(state, ident, wait, timeout):
        client = state.client
        if KEY not in client.cep:
            raise CimiError("the server keeps no quarantine")
        entry = client.find(KEY, ident)
        result = client.act(entry, name)
        # a restored resource is back at its old URL; a purged one is gone with its entry
        result.location = entry["resource"]["href"] if name == "restore" else None
        conclude(state, result, f"{done} {label(entry)}", wait, timeout)
    return _run


_operation("restore", "restored")
_operation("purge", "purged")
