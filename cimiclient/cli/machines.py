"""`cimi machines`: create (with networks, keys, user-data, volumes), actions, console, ssh."""
import ipaddress
import os
import shutil
import subprocess
import sys
import time

import click

from cimiclient.cli.app import cli, pass_state
from cimiclient.cli.common import (
    ACTIONS,
    Listing,
    attr,
    crud_commands,
    finish,
    label,
    output_option,
    read_file,
    report,
    short,
    wait_options,
)
from cimiclient.cli.output import JobProgress, clean_lines, kib
from cimiclient import CimiError, NotFound
from cimiclient.documents import CREDENTIAL_PROPERTY


def addresses_by_machine(client) -> dict:
    """Machine id -> its IP addresses, from one query of the Address collection."""
    found = {}
    for address in client.addresses():
        found.setdefault(address["resource"]["href"], []).append(address.get("ip", ""))
    return found


def _addresses_cell(item, context):
    return ", ".join(ip for ip in (context or {}).get(item.get("id"), []) if ip)


LISTING = Listing("machine", [("ID", short), ("NAME", attr("name")), ("STATE", attr("state")), ("CPU", attr("cpu")),
                              ("MEMORY", attr("memory", kib)), ("ADDRESSES", _addresses_cell),
                              ("CREATED", attr("created"))], addresses_by_machine)


def _details(state, machine):
    ips = [a.get("ip", "") for a in state.client.addresses(machine)]
    return [("addresses", ", ".join(ips) or "none known")]


@cli.group()
def machines():
    """Machines: list, show, create, start, stop, restart, pause, suspend, delete, console, ssh."""


crud_commands(machines, "machines", LISTING, ACTIONS, details=_details)


def _volume_spec(text: str):
    """VOL or VOL:LOCATION (the device inside the machine, e.g. vdb)."""
    name, _, location = text.partition(":") if not text.startswith(("http://", "https://")) else (text, "", "")
    return (name, location) if location else name


def wait_for_addresses(client, machine: dict, timeout: float) -> list:
    """The Machine's addresses, waiting (up to timeout) for the first lease of a started Machine."""
    found = client.addresses(machine)
    if found or timeout <= 0 or machine.get("state") != "STARTED" or not client.links_addresses():
        return found
    deadline = time.monotonic() + timeout
    with JobProgress(f"waiting for the addresses of {label(machine)}") as bar:
        try:
            while not found and time.monotonic() < deadline:
                bar.update({"state": "DHCP", "progress": 0})
                time.sleep(2)
                found = client.addresses(machine)
        except KeyboardInterrupt:           # the machine is made; only the wait is given up
            pass
    return found


@machines.command("create")
@click.argument("name")
@click.option("--template", help="MachineTemplate id or name")
@click.option("--config", help="MachineConfiguration id or name (with --image)")
@click.option("--image", help="MachineImage id or name (with --config)")
@click.option("--network", "networks", multiple=True, metavar="NET",
              help="a Network to put a NIC on (repeatable; none: the cloud's default network)")
@click.option("--ssh-key", type=click.Path(dir_okay=False), metavar="FILE",
              help="an OpenSSH public key file: a Credential NAME-key is made with it")
@click.option("--ssh-user", metavar="USER", help="with --ssh-key: the user the key logs in as")
@click.option("--credential", help="a Credential id or name (instead of --ssh-key)")
@click.option("--user-data", type=click.Path(dir_okay=False), metavar="FILE",
              help="a file (e.g. #cloud-config) handed to the guest")
@click.option("--volume", "volumes", multiple=True, metavar="VOL[:DEVICE]",
              help="a Volume to attach, optionally at a device such as vdb (repeatable)")
@click.option("--description")
@click.option("--state", "initial_state", type=click.Choice(["STARTED", "STOPPED"]), help="initial state")
@click.option("--address-timeout", type=float, default=None,
              help="seconds to wait for a started machine's first address (default: 60 on a terminal, "
              "where Ctrl-C stops the wait, 0 when piped)")
@wait_options
@output_option
@pass_state
def machines_create(state, name, template, config, image, networks, ssh_key, ssh_user, credential, user_data,
                    volumes, description, initial_state, address_timeout, wait, timeout):
    """Create machine NAME from a template, or from a configuration and an image.

    With --wait (the default) it prints the machine with its addresses once known.
    """
    if not template and not (config and image):
        raise click.UsageError("give --template, or both --config and --image")
    if template and (config or image):
        raise click.UsageError("give --template or --config/--image, not both")
    if ssh_key and credential:
        raise click.UsageError("give --ssh-key or --credential, not both")
    if ssh_user and not ssh_key:
        raise click.UsageError("--ssh-user goes with --ssh-key")
    client = state.client
    data = read_file(user_data, "user-data") if user_data else None
    made = None
    if ssh_key:
        key = read_file(ssh_key, "public key").decode("utf-8", "replace")
        body = client.credential_body(f"{name}-key", public_key=key, user=ssh_user)
        made = client.finish(client.create("credentials", body), state.timeout_jobs)
        credential = made["id"]
    try:
        body = client.machine_body(name, template=template, config=config, image=image, description=description,
                                   initial_state=initial_state, credential=credential, networks=networks,
                                   volumes=[_volume_spec(v) for v in volumes], user_data=data)
        result = client.create("machines", body)
    except CimiError:
        if made:
            client.delete(made)        # nothing is left behind by a refused create
        raise
    machine = finish(state, result, f"creating machine {name}", wait, timeout)
    extra = ()
    if wait and machine and state.output == "table":
        if address_timeout is None:
            address_timeout = 60 if sys.stdout.isatty() else 0
        ips = [a.get("ip", "") for a in wait_for_addresses(client, machine, address_timeout)]
        extra = [("addresses", ", ".join(ips) or "none known yet (see: cimi machines show)")]
    report(state, result, machine, f"create machine {name}", wait, extra)


@machines.command("console")
@click.argument("ident")
@click.option("--tail", type=click.IntRange(1, 100000), default=None,
              help="the last N lines (the server's default: 200)")
@pass_state
def machines_console(state, ident, tail):
    """Print the machine's serial console log.

    On a terminal, escape sequences from the guest are shown escaped, not run.
    """
    text = state.client.console(state.client.find("machines", ident), tail)
    if sys.stdout.isatty():
        text = clean_lines(text)
    sys.stdout.write(text + ("\n" if text and not text.endswith("\n") else ""))   # a prompt ends the log
    sys.stdout.flush()


def login_user(client, machine: dict) -> str | None:
    """The user name of the Credential the Machine was made with, if it had one."""
    href = (machine.get("credential") or {}).get("href") or (machine.get("properties") or {}).get(CREDENTIAL_PROPERTY)
    if not href:
        return None
    try:
        return client.get(href).get("userName")
    except NotFound:
        return None


def ssh_command(addresses: list, user: str | None, identity: str | None, extra: tuple) -> list:
    """The ssh command line to a machine's best address (the host comes after --, never as an option)."""
    ips = []
    for address in addresses:
        try:
            ips.append(ipaddress.ip_address(str(address.get("ip", "")).split("/")[0]))
        except ValueError:
            continue                         # not an address ssh should be pointed at
    if not ips:
        raise CimiError("no address is known for this machine yet (is it started, on a network with DHCP?)")
    argv = ["ssh"]
    if identity:
        argv += ["-i", identity]
    if user:
        argv += ["-l", user]
    best = sorted(ips, key=lambda ip: (not ip.is_global, ip.version))[0]   # public first, IPv4 before IPv6
    return [*argv, "--", str(best), *extra]


@machines.command("ssh", context_settings={"ignore_unknown_options": True})
@click.argument("ident")
@click.option("--user", "-l", "user", help="log in as (default: the user of the machine's Credential)")
@click.option("--identity", "-i", type=click.Path(dir_okay=False), help="private key file for ssh")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@pass_state
def machines_ssh(state, ident, user, identity, command):
    """Run ssh to the machine's address as the right user (then COMMAND, if given)."""
    client = state.client
    machine = client.find("machines", ident)
    argv = ssh_command(client.addresses(machine), user or login_user(client, machine), identity, command)
    if not shutil.which("ssh"):
        raise CimiError("ssh is not installed (Debian: apt-get install openssh-client)")
    sys.stdout.flush()
    click.get_current_context().exit(subprocess.call(argv, env=os.environ))
