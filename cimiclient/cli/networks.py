"""`cimi networks`: create, start, stop, delete."""
import click

from cimiclient.cli.app import cli
from cimiclient.cli.common import Listing, attr, create_and_report, create_options, crud_commands, short

LISTING = Listing("network", [("ID", short), ("NAME", attr("name")), ("STATE", attr("state")),
                              ("TYPE", attr("networkType")), ("CIDR", attr("cidr"))])


@cli.group()
def networks():
    """Networks: list, show, create, start, stop, delete."""


crud_commands(networks, "networks", LISTING, ("start", "stop"))


@networks.command("create")
@click.argument("name", required=False)
@click.option("--type", "network_type", type=click.Choice(["PRIVATE", "PUBLIC"], case_sensitive=False),
              help="network type (default PRIVATE)")
@click.option("--cidr", help="address range, e.g. 10.1.0.0/24")
@click.option("--config", help="NetworkConfiguration id or name")
@click.option("--template", help="NetworkTemplate id or name")
@create_options
def networks_create(state, name, network_type, cidr, config, template, description, wait, timeout):
    """Create a network."""
    if (config or template) and (network_type or cidr):
        raise click.UsageError("--type/--cidr describe a new configuration; not with --config/--template")
    body = state.client.network_body(name, network_type, cidr, config=config, template=template,
                                     description=description)
    create_and_report(state, "networks", body, f"network {name or ''}".strip(), wait, timeout)
