"""`cimi volumes`: create, attach, detach, snapshot; the table shows where each is attached."""
import click

from cimiclient.cli.app import cli, pass_state
from cimiclient.cli.common import (
    Listing,
    attr,
    conclude,
    create_and_report,
    create_options,
    crud_commands,
    finish,
    label,
    output_option,
    report,
    short,
    wait_options,
)
from cimiclient.cli.output import kib
from cimiclient import short_id


def _attached_cell(item, context):
    machine, mv = (context or {}).get(item.get("id"), (None, None))
    if machine is None:
        return ""
    return f"{label(machine)}:{mv.get('initialLocation') or '?'}"


LISTING = Listing("volume", [("ID", short), ("NAME", attr("name")), ("STATE", attr("state")),
                             ("CAPACITY", attr("capacity", kib)), ("TYPE", lambda v, c: short_id(v.get("type", ""))),
                             ("BOOTABLE", attr("bootable")), ("ATTACHED", _attached_cell)],
                  lambda client: client.attachments())


def _details(state, volume):
    machine, mv = state.client.attachments().get(volume["id"], (None, None))
    return [("attached", f"{label(machine)} at {mv.get('initialLocation') or '?'}" if machine else "no")]


@cli.group()
def volumes():
    """Volumes: list, show, create, attach, detach, snapshot, delete."""


crud_commands(volumes, "volumes", LISTING, details=_details)


def parse_size(text: str) -> int:
    """A size in KiB from '10G', '512M', '1T', '2048K'; a bare number is GiB."""
    units = {"K": 1, "M": 1 << 10, "G": 1 << 20, "T": 1 << 30}
    raw = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = raw[-1] if raw and raw[-1] in units else "G"
    number = raw[:-1] if raw and raw[-1] in units else raw
    try:
        size = int(float(number) * units[unit])
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a size like 10G, 512M or 2048K") from None
    if size <= 0:
        raise click.BadParameter("the size must be positive")
    return size


@volumes.command("create")
@click.argument("name", required=False)
@click.option("--size", help="capacity, e.g. 10G, 512M (a bare number is GiB)")
@click.option("--config", help="VolumeConfiguration id or name")
@click.option("--template", help="VolumeTemplate id or name")
@create_options
def volumes_create(state, name, size, config, template, description, wait, timeout):
    """Create a volume of a size, or from a configuration or template."""
    if sum(bool(x) for x in (size, config, template)) != 1:
        raise click.UsageError("give exactly one of --size, --config, --template")
    body = state.client.volume_body(name, capacity_kib=parse_size(size) if size else None, config=config,
                                    template=template, description=description)
    create_and_report(state, "volumes", body, f"volume {name or ''}".strip(), wait, timeout)


@volumes.command("attach")
@click.argument("volume")
@click.argument("machine")
@click.option("--location", help="device inside the machine, e.g. vdb")
@wait_options
@output_option
@pass_state
def volumes_attach(state, volume, machine, location, wait, timeout):
    """Attach VOLUME to MACHINE."""
    client = state.client
    vol, mach = client.find("volumes", volume), client.find("machines", machine)
    conclude(state, client.attach(mach, vol, location), f"attach {label(vol)}", wait, timeout)


@volumes.command("detach")
@click.argument("volume")
@click.argument("machine")
@wait_options
@output_option
@pass_state
def volumes_detach(state, volume, machine, wait, timeout):
    """Detach VOLUME from MACHINE."""
    client = state.client
    vol, mach = client.find("volumes", volume), client.find("machines", machine)
    result = client.detach(mach, vol)
    if result.job and wait:
        finish(state, result, f"detaching {label(vol)}", wait, timeout)
    report(state, result, None, f"detached volume {short_id(vol['id'])} from machine {short_id(mach['id'])}",
           wait)


@volumes.command("snapshot")
@click.argument("volume")
@click.option("--name", help="name of the new VolumeImage")
@create_options
def volumes_snapshot(state, volume, name, description, wait, timeout):
    """Snapshot VOLUME into a new volume image (its machine must be stopped, or it detached)."""
    vol = state.client.find("volumes", volume)
    conclude(state, state.client.snapshot(vol, name, description), f"snapshot {label(vol)}", wait, timeout)
