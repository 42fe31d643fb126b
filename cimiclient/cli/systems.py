"""`cimi systems` and `cimi system-templates`: several resources made and acted on as one."""
import click

from cimiclient.cli.app import cli
from cimiclient.cli.common import (
    ACTIONS,
    Listing,
    attr,
    create_and_report,
    create_options,
    crud_commands,
    label,
    short,
)
from cimiclient import NotFound, items_of, short_id

MEMBERS = ("machines", "volumes", "networks", "credentials")   # a System's sub-collections (DSP0263 5.10)
SYSTEMS = Listing("system")
TEMPLATES = Listing("system template", [("ID", short), ("NAME", attr("name")),
                                        ("COMPONENTS", lambda t, c: len(t.get("componentDescriptors") or [])),
                                        ("DESCRIPTION", attr("description"))])


def members(client, system: dict) -> list:
    """(kind, member resource) for each resource a System holds; a member gone meanwhile is skipped."""
    found = []
    for key in MEMBERS:
        if not isinstance(system.get(key), dict):
            continue
        for link in items_of(client.query(system[key]["href"])):
            ref = next((v["href"] for k, v in link.items() if isinstance(v, dict) and "href" in v
                        and k != "operations"), None)
            try:
                found.append((key[:-1], client.get(ref)))
            except NotFound:
                continue
    return found


def _member_rows(state, system):
    return [(kind, f"{label(m)} ({m.get('state', '')}) {short_id(m['id'])}".replace(" ()", ""))
            for kind, m in members(state.client, system)]


def _component_rows(state, template):
    rows = []
    for desc in template.get("componentDescriptors") or []:
        kind = short_id(desc.get("type", ""))
        rows.append(("component", f"{kind} {desc.get('name') or ''} x{desc.get('quantity', 1)}"))
    return rows


@cli.group()
def systems():
    """Systems: list, show (with members), create from a template, start, stop, delete."""


crud_commands(systems, "systems", SYSTEMS, ACTIONS, details=_member_rows)


@systems.command("create")
@click.argument("name")
@click.option("--template", required=True, help="SystemTemplate id or name")
@create_options
def systems_create(state, name, template, description, wait, timeout):
    """Create system NAME from a system template."""
    body = state.client.system_body(name, template, description)
    create_and_report(state, "systems", body, f"system {name}", wait, timeout)


@cli.group("system-templates")
def system_templates():
    """System templates: list, show (with components), delete; `cimi import` makes them from OVF."""


crud_commands(system_templates, "systemTemplates", TEMPLATES, details=_component_rows)
