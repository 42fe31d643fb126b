"""The commands every collection shares (list, show, delete, actions) and their options.

A resource module declares its table (a ``Listing``) and calls the factories
here for the commands its collection offers; it writes only what is special.
"""
import json
from dataclasses import dataclass, field
from typing import Callable

import click

from cimiclient.cli.app import OUTPUTS, State, pass_state
from cimiclient.cli.output import JobProgress, echo, echo_document, plain, resource_table, table
from cimiclient import ITEMS, short_id

ACTIONS = ("start", "stop", "restart", "pause", "suspend")
DEFAULT_PAGE_SIZE = 20


def attr(name: str, show: Callable = plain) -> Callable:
    """A column showing one attribute of each entry."""
    return lambda item, context: show(item.get(name))


def short(item, context) -> str:
    return short_id(item.get("id", ""))


@dataclass
class Listing:
    """How a collection is shown as a table.

    columns: (header, cell(item, context)) pairs; context(client) fetches, once
    per listing, what cells need from elsewhere (addresses, attachments).
    """
    noun: str
    columns: list = field(default_factory=lambda: [("ID", short), ("NAME", attr("name")),
                                                   ("STATE", attr("state"))])
    context: Callable | None = None


def print_list(state: State, key: str, listing: Listing, items: list, select=None):
    columns = listing.columns
    if select:
        columns = [(n.strip().upper(), attr(n.strip())) for n in select.split(",") if n.strip()]
    context = listing.context(state.client) if listing.context and items and not select else None
    table([h for h, _ in columns], [[cell(item, context) for _, cell in columns] for item in items], f"no {key}")


# --- options ---------------------------------------------------------------------------------------------
def output_option(f):
    """--output on every command too, so it can come after the subcommand."""
    def remember(ctx, param, value):
        if value:
            ctx.find_object(State).output = value
        return value
    return click.option("--output", type=click.Choice(OUTPUTS), expose_value=False, callback=remember,
                        help="table (default), or json / xml: the server's documents as sent")(f)


def query_options(f):
    options = [
        click.option("--filter", "filters_given", multiple=True,
                     help="CIMI $filter, e.g. \"state='STARTED'\"; repeat to AND"),
        click.option("--select", help="attributes to show (CIMI $select), e.g. 'name,state'; "
                     "an attribute the kind does not have is an error"),
        click.option("--orderby", help="CIMI $orderby, e.g. 'name:desc'"),
        click.option("--expand", help="CIMI $expand"),
        click.option("--first", type=click.IntRange(min=1),
                     help="index of the first entry to return (CIMI $first, 1-based)"),
        click.option("--last", type=click.IntRange(min=1),
                     help="index of the LAST entry to return (CIMI $last, 1-based, inclusive): "
                     "--first 11 --last 20 gives entries 11 to 20; it is not a count"),
        click.option("--page", type=click.IntRange(min=1),
                     help=f"page number (1-based) of --page-size entries (default {DEFAULT_PAGE_SIZE})"),
        click.option("--page-size", type=click.IntRange(min=1), help="entries per page (with or without --page)"),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def page_window(first, last, page, page_size):
    """$first/$last for --page/--page-size, which cannot be mixed with --first/--last."""
    if page is None and page_size is None:
        return first, last
    if first is not None or last is not None:
        raise click.UsageError("give --first/--last or --page/--page-size, not both")
    size, page = page_size or DEFAULT_PAGE_SIZE, page or 1
    return (page - 1) * size + 1, page * size


def wait_options(f):
    f = click.option("--timeout", type=float, default=None, help="seconds to wait for the Job (default 300)")(f)
    return click.option("--wait/--no-wait", default=True, show_default=True,
                        help="wait for the Job to finish")(f)


def create_options(f):
    """What every command that makes something takes: --description, --wait/--no-wait, --timeout, --output."""
    return click.option("--description")(wait_options(output_option(pass_state(f))))


# --- results ---------------------------------------------------------------------------------------------
def emit(state: State, doc: dict, extra_rows=(), select=None, expand=None):
    """One resource: a table, or the server's document in the chosen format (fetched as sent)."""
    if state.output == "table":
        resource_table(doc, extra_rows)
        return
    echo_document(state.client.request("GET", doc["id"], fmt=state.output,
                                       params={"$select": select, "$expand": expand}).body)


def finish(state: State, result, label: str, wait: bool, timeout):
    """After a create or action: wait for the Job (with progress) and return the resource now."""
    client = state.client
    if not wait or not result.job:
        return client.get(result.location) if (result.location and wait) else result.doc
    with JobProgress(label) as bar:
        return client.finish(result, timeout or state.timeout_jobs, on_progress=bar.update)


def report(state: State, result, resource, what: str, wait: bool, extra_rows=()):
    """Print what a create, action or delete did: the resource now, or its Job when not waiting."""
    if not wait and result.job:
        if state.output == "json":
            click.echo(json.dumps({"job": result.job, "location": result.location}, indent=2))
        elif state.output == "xml":
            echo_document(state.client.request("GET", result.job, fmt="xml").body)
        else:
            echo(f"{what}: job {short_id(result.job)} started ({result.job})")
        return
    if resource is None:
        if state.output == "json":
            click.echo(json.dumps({"deleted": what, "job": result.job}, indent=2))
        elif state.output == "table":
            echo(f"{what}: done")
        return
    emit(state, resource, extra_rows)


def conclude(state: State, result, what: str, wait: bool = True, timeout=None, extra_rows=()):
    """Wait for what a create or action started (unless told not to), and print the outcome."""
    resource = finish(state, result, what, wait, timeout)
    report(state, result, resource, what, wait, extra_rows)
    return resource


def create_and_report(state, collection, body, what, wait=True, timeout=None):
    """POST a create, wait for its Job (unless told not to), and print the outcome."""
    return conclude(state, state.client.create(collection, body), f"create {what}", wait, timeout)


def label(resource: dict) -> str:
    """A resource as people name it."""
    return resource.get("name") or short_id(resource.get("id", ""))


# --- the shared commands -----------------------------------------------------------------------------------
def list_command(group, key: str, listing: Listing, help_text: str | None = None, options=(), filters=None):
    """``list`` with the CIMI query options; ``options`` add more, which ``filters(client, **values)``
    turns into $filter terms."""
    def _list(state, filters_given, select, orderby, expand, first, last, page, page_size, **values):
        first, last = page_window(first, last, page, page_size)
        client = state.client
        client.check_select(key, select)
        terms = list(filters_given) + (filters(client, **values) if filters else [])
        resp = client.query_response(key, fmt="xml" if state.output == "xml" else "json", filter=terms,
                                     select=select, first=first, last=last, orderby=orderby, expand=expand)
        if state.output != "table":
            echo_document(resp.body)
            return
        print_list(state, key, listing, client.decode(resp).get(ITEMS[key], []), select)

    for option in reversed(options):
        _list = option(_list)
    _list = query_options(output_option(pass_state(_list)))
    return group.command("list", help=help_text or f"List {listing.noun}s.")(_list)


def show_command(group, key: str, noun: str, details: Callable | None = None):
    """``show IDENT``; ``details(state, resource)`` gives extra rows for the table."""
    @group.command("show", help=f"Show one {noun} (by id, name or URL).")
    @click.argument("ident")
    @click.option("--select", help="attributes to show (CIMI $select)")
    @click.option("--expand", help="CIMI $expand")
    @output_option
    @pass_state
    def _show(state, ident, select, expand):
        client = state.client
        client.check_select(key, select)
        resource = client.find(key, ident)
        if state.output != "table":
            emit(state, resource, select=select, expand=expand)
            return
        if select or expand:
            resource = client.get(resource["id"], select=select, expand=expand)
        resource_table(resource, details(state, resource) if details and not select else ())
    return _show


def delete_command(group, key: str, noun: str):
    @group.command("delete", help=f"Delete a {noun}.")
    @click.argument("ident")
    @wait_options
    @output_option
    @pass_state
    def _delete(state, ident, wait, timeout):
        resource = state.client.find(key, ident)
        result = state.client.delete(resource)
        gone = finish(state, result, f"deleting {noun} {label(resource)}", wait, timeout) if result.job else None
        report(state, result, gone if wait else None, f"deleted {noun} {short_id(resource['id'])}", wait)
    return _delete


def action_command(group, key: str, noun: str, action: str):
    @group.command(action, help=f"{action.capitalize()} a {noun} and wait for it.")
    @click.argument("ident")
    @click.option("--force", is_flag=True, default=False, help="force (stop and restart only)")
    @wait_options
    @output_option
    @pass_state
    def _act(state, ident, force, wait, timeout):
        resource = state.client.find(key, ident)
        params = {"force": True} if force and action in ("stop", "restart") else {}
        result = state.client.act(resource, action, **params)
        result.location = result.location or resource["id"]
        conclude(state, result, f"{action} {noun} {label(resource)}", wait, timeout)
    return _act


def crud_commands(group, key: str, listing: Listing, actions=(), deletable=True, details=None):
    """list, show, delete and the given actions for a collection."""
    list_command(group, key, listing)
    show_command(group, key, listing.noun, details)
    if deletable:
        delete_command(group, key, listing.noun)
    for action in actions:
        action_command(group, key, listing.noun, action)


def share_commands(group, key: str, noun: str):
    """``share`` and ``unshare IDENT --user U | --group G | --public``: read-only access for others."""
    def principal_options(f):
        f = click.option("--public", is_flag=True, help="everyone")(f)
        f = click.option("--group", help="a group of users (cimi-server users add --group)")(f)
        return click.option("--user", help="a user's name")(f)

    def principal(user, group, public):
        given = [p for p in (user and f"user:{user}", group and f"group:{group}", public and "everyone") if p]
        if len(given) != 1:
            raise click.UsageError("give exactly one of --user, --group, --public")
        return given[0]

    for shared, verb in ((True, "share"), (False, "unshare")):
        def _share(state, ident, user, group, public, shared=shared, verb=verb):
            whom = principal(user, group, public)
            resource = state.client.share(state.client.find(key, ident), whom, shared)
            if state.output == "table":
                echo(f"{verb}d {noun} {label(resource)} {'with' if shared else 'from'} {whom}")
            emit(state, resource, extra_rows=[("SHARED WITH", ", ".join(
                r["principal"] for r in (resource.get("acl") or {}).get("rules", [])) or "-")])
        text = (f"Let a user, a group or everyone read a {noun} (read-only)." if shared else
                f"Take back what `share` gave on a {noun}.")
        group.command(verb, help=text)(click.argument("ident")(principal_options(output_option(pass_state(_share)))))


def read_file(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise click.BadParameter(f"cannot read {what} {path}: {exc.strerror}") from None

