"""`cimi quotas`: what users may consume (administrators set it; a user reads theirs and the default)."""
import click

from cimiclient.cli.app import cli, pass_state, read_config
from cimiclient.cli.common import Listing, emit, output_option, print_list
from cimiclient.cli.output import echo_document, kib, resource_table
from cimiclient.cli.volumes import parse_size

LIMITS = (("cpu", "CPU", str), ("memory", "MEMORY", kib), ("volumeCapacity", "VOLUME CAPACITY", kib),
          ("machines", "MACHINES", str), ("volumes", "VOLUMES", str), ("machineImages", "IMAGES", str))


def _used_of(name, show):
    """A cell `used / limit` (`-`: unlimited)."""
    def cell(quota, context):
        used = (quota.get("usage") or {}).get(name)
        limit = show(quota[name]) if name in quota else "-"
        return limit if used is None else f"{show(used) if used else 0} / {limit}"
    return cell


LISTING = Listing("quota", [("USER", lambda q, c: q.get("user") or "(default)")]
                  + [(header, _used_of(name, show)) for name, header, show in LIMITS])


@cli.group()
def quotas():
    """Quotas: list, show, set (set: administrators)."""


@quotas.command("list")
@output_option
@pass_state
def quotas_list(state):
    """List the quotas you may read (an administrator: all; a user: theirs and the default), with usage."""
    if state.output != "table":
        echo_document(state.client.query_response("quotas", fmt=state.output).body)
        return
    print_list(state, "quotas", LISTING, state.client.list("quotas"))


@quotas.command("show")
@click.option("--user", help="whose quota (default: the default quota, or yours if you have one)")
@output_option
@pass_state
def quotas_show(state, user):
    """Show one quota with its usage."""
    client = state.client
    me = state.options.get("user") or read_config(state.profile).get("user")
    quota = client.quota(user) if user else (client.quota(me) or client.quota(None))
    if quota is None:
        raise click.ClickException(f"no quota for {user}: the default applies" if user else "no quota: unlimited")
    if state.output == "table":
        resource_table(quota)
    else:
        emit(state, quota)


def _size(ctx, param, value):
    return None if value is None else parse_size(value)


@quotas.command("set")
@click.option("--user", help="the user it limits (leave out: the default for users without their own)")
@click.option("--cpu", type=click.IntRange(0), help="vCPUs of all the user's Machines")
@click.option("--memory", callback=_size, help="memory of all their Machines, e.g. 8GiB")
@click.option("--volume-capacity", callback=_size, help="capacity of their Volumes and disks, e.g. 100G")
@click.option("--machines", type=click.IntRange(0))
@click.option("--volumes", type=click.IntRange(0))
@click.option("--images", type=click.IntRange(0), help="MachineImages")
@click.option("--by-value/--no-by-value", default=None,
              help="whether configurations may be given by value (not a provider's configuration)")
@click.option("--by-value-cpu", type=click.IntRange(1), help="most vCPUs of a machineConfig by value")
@click.option("--by-value-memory", callback=_size, help="most memory of a machineConfig by value")
@click.option("--by-value-capacity", callback=_size, help="most capacity of a volumeConfig by value")
@click.option("--retention", multiple=True, metavar="COLLECTION=SECONDS",
              help="quarantine retention of machines, volumes or machineImages (repeatable)")
@output_option
@pass_state
def quotas_set(state, user, cpu, memory, volume_capacity, machines, volumes, images, by_value, by_value_cpu,
               by_value_memory, by_value_capacity, retention):
    """Create or change a quota: only the limits given change (administrators)."""
    limits = {"cpu": cpu, "memory": memory, "volumeCapacity": volume_capacity, "machines": machines,
              "volumes": volumes, "machineImages": images}
    bounds = {"machineConfig": by_value, "volumeConfig": by_value, "cpu": by_value_cpu,
              "memory": by_value_memory, "capacity": by_value_capacity}
    changes = {k: v for k, v in limits.items() if v is not None}
    current = state.client.quota(user) or {}
    if any(v is not None for v in bounds.values()):
        changes["byValue"] = {**current.get("byValue", {}), **{k: v for k, v in bounds.items() if v is not None}}
    if retention:
        changes["quarantineRetention"] = {**current.get("quarantineRetention", {}), **_retention(retention)}
    if not changes:
        raise click.UsageError("give at least one limit to set (see --help)")
    quota = state.client.set_quota(user, changes)
    if state.output == "table":
        resource_table(quota)
    else:
        emit(state, quota)


def _retention(pairs):
    out = {}
    for pair in pairs:
        name, _, seconds = pair.partition("=")
        if name not in ("machines", "volumes", "machineImages") or not seconds.isdigit():
            raise click.BadParameter(f"{pair!r}: give machines=, volumes= or machineImages= and seconds",
                                     param_hint="--retention")
        out[name] = int(seconds)
    return out
