"""`cimi usage`: what each user used over a period (vCPU-hours, GiB-hours), derived by the server from its Events."""
import json

import click

from cimiclient.cli.app import cli, pass_state
from cimiclient.cli.output import echo, table

COLUMNS = (("CPU (vCPU-h)", "cpuHours"), ("MEMORY (GiB-h)", "memoryGiBHours"),
           ("VOLUMES (GiB-h)", "volumeGiBHours"), ("IMAGES (GiB-h)", "imageGiBHours"))


@cli.command("usage")
@click.option("--user", help="only this user (admins; a user sees their own usage)")
@click.option("--from", "start", metavar="ISO", help="start of the period, e.g. 2026-11-01T00:00:00Z "
              "(default: 30 days before its end)")
@click.option("--to", "end", metavar="ISO", help="end of the period (default: now)")
@pass_state
def usage(state, user, start, end):
    """Print a table of usage per owner over a period."""
    found = state.client.usage(user, start, end)
    if state.output != "table":
        echo(json.dumps(found, indent=2))
        return
    if found:
        echo(f"from {found[0]['from']} to {found[0]['to']}")
    table(["USER", *(header for header, _ in COLUMNS)],
          [[doc["user"], *(doc["usage"][key] for _, key in COLUMNS)] for doc in found], "no usage recorded")
