"""`cimi`: drive a CIMI cloud from a shell.

Connection settings come from, in this order: options (--endpoint, --user,
--password), the environment (CIMI_ENDPOINT, CIMI_USER, CIMI_PASSWORD), and
the config file (CIMI_CONFIG, or config.ini in the user's config dir, e.g.
~/.config/cimi/config.ini), section [default] or the one --profile names:

    [default]
    endpoint = http://127.0.0.1:8080/cimi/
    user = alice
    password = s3cret

Tables are for people; --output json|xml prints what the server sent, for
scripts. Waiting on a Job shows a progress bar on a terminal and nothing when
piped. Errors print the server's message and exit 1; usage errors exit 2.
"""
import configparser
import io
import json
import os
import sys
import tarfile
import urllib.parse
from pathlib import Path

import click
from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from cimi.client import CimiError, Client, Conflict, NotImplementedByServer, short_id

OUTPUTS = ("table", "json", "xml")
ACTIONS = ("start", "stop", "restart", "pause", "suspend")

#: The table columns of each kind: (header, how to get the cell from a resource).
COLUMNS = {
    "machines": [("ID", "id"), ("NAME", "name"), ("STATE", "state"), ("CPU", "cpu"),
                 ("MEMORY", "memory:kib"), ("CREATED", "created")],
    "volumes": [("ID", "id"), ("NAME", "name"), ("STATE", "state"), ("CAPACITY", "capacity:kib"),
                ("TYPE", "type:short"), ("BOOTABLE", "bootable")],
    "networks": [("ID", "id"), ("NAME", "name"), ("STATE", "state"), ("TYPE", "networkType"),
                 ("CIDR", "cidr")],
    "machineImages": [("ID", "id"), ("NAME", "name"), ("STATE", "state"), ("TYPE", "type"),
                      ("LOCATION", "imageLocation")],
    "machineConfigs": [("ID", "id"), ("NAME", "name"), ("CPU", "cpu"), ("MEMORY", "memory:kib"),
                       ("DESCRIPTION", "description")],
    "machineTemplates": [("ID", "id"), ("NAME", "name"), ("DESCRIPTION", "description")],
    "jobs": [("ID", "id"), ("ACTION", "action:short"), ("STATE", "state"), ("PROGRESS", "progress"),
             ("TARGET", "targetResource"), ("MESSAGE", "statusMessage")],
}
KIND_NAMES = {"machines": "machine", "volumes": "volume", "networks": "network", "machineImages": "image",
              "machineConfigs": "configuration", "machineTemplates": "template", "jobs": "job"}


# --- settings and the client --------------------------------------------------------------------
def config_path() -> Path:
    return Path(os.environ.get("CIMI_CONFIG") or Path(click.get_app_dir("cimi")) / "config.ini")


def read_config(profile: str) -> dict:
    path = config_path()
    if not path.is_file():
        return {}
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        raise click.UsageError(f"cannot read {path}: {exc}") from None
    if profile != "default" and not parser.has_section(profile):
        raise click.UsageError(f"{path} has no [{profile}] section")
    return dict(parser[profile]) if parser.has_section(profile) else {}


def entry_point_url(endpoint: str) -> str:
    """Accept a bare host URL too: http://h:8080 means its /cimi/ entry point."""
    parts = urllib.parse.urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.UsageError(f"the endpoint must be an http(s) URL, not {endpoint!r}")
    return endpoint if parts.path not in ("", "/") else endpoint.rstrip("/") + "/cimi/"


class State:
    """What every command shares: settings, the output format and the client (made on first use)."""

    def __init__(self, endpoint, user, password, profile, output, timeout):
        self.options = {"endpoint": endpoint, "user": user, "password": password}
        self.profile, self.output, self.timeout = profile, output, timeout
        self._client = None

    @property
    def client(self) -> Client:
        if self._client is None:
            settings = {**read_config(self.profile), **{k: v for k, v in self.options.items() if v}}
            if not settings.get("endpoint"):
                raise click.UsageError("no endpoint: give --endpoint URL, set CIMI_ENDPOINT, "
                                       f"or write endpoint = URL in {config_path()}")
            self._client = Client.connect(entry_point_url(settings["endpoint"]), settings.get("user"),
                                          settings.get("password"), timeout=self.timeout)
        return self._client


def output_option(f):
    """--output on every command too, so it can come after the subcommand."""
    def remember(ctx, param, value):
        if value:
            ctx.find_object(State).output = value
        return value
    return click.option("--output", type=click.Choice(OUTPUTS), expose_value=False, callback=remember,
                        help="table (default), json or xml")(f)


def query_options(f):
    for name, help_text in (("--orderby", "CIMI $orderby, e.g. 'name:desc'"), ("--expand", "CIMI $expand"),
                            ("--last", "CIMI $last (1-based, inclusive)"), ("--first", "CIMI $first (1-based)"),
                            ("--select", "CIMI $select, e.g. 'name,state'")):
        f = click.option(name, help=help_text, type=int if name in ("--first", "--last") else str)(f)
    return click.option("--filter", "filters", multiple=True, help="CIMI $filter, e.g. \"state='STARTED'\"; "
                        "repeat to AND")(f)


def wait_options(f):
    f = click.option("--timeout", type=float, default=None, help="seconds to wait for the Job (default 300)")(f)
    return click.option("--wait/--no-wait", default=True, show_default=True,
                        help="wait for the Job to finish")(f)


# --- output ---------------------------------------------------------------------------------------------
def show(renderable):
    """Print a table: styled on a terminal; plain, wide and without trailing blanks when piped."""
    if sys.stdout.isatty():
        Console(highlight=False).print(renderable)
        return
    console = Console(file=io.StringIO(), width=250, force_terminal=False, no_color=True, highlight=False)
    with console.capture() as captured:
        console.print(renderable)
    click.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))


def _kib(value):
    if not isinstance(value, int):
        return value
    for unit, size in (("TiB", 1 << 30), ("GiB", 1 << 20), ("MiB", 1 << 10)):
        if value >= size and value % (size // 1024 or 1) == 0 or value >= size * 10:
            return f"{value / size:g} {unit}"
    return f"{value} KiB"


def cell(resource: dict, spec: str) -> str:
    key, _, how = spec.partition(":")
    value = resource.get(key)
    if value is None:
        return ""
    if key == "id":
        return short_id(value)
    if isinstance(value, dict) and "href" in value:
        return short_id(value["href"]) if key != "targetResource" else "/".join(value["href"].split("/")[-2:])
    if how == "kib":
        return str(_kib(value))
    if how == "short":
        return short_id(str(value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def print_table(key: str, items: list, select=None):
    columns = COLUMNS.get(key, [("ID", "id"), ("NAME", "name"), ("STATE", "state")])
    if select:
        columns = [(name.upper(), name) for name in select.split(",") if name.strip()]
    table = Table(box=box.SIMPLE, show_edge=False, pad_edge=False)
    for header, spec in columns:
        table.add_column(header, no_wrap=spec == "id", overflow="fold")
    for item in items:
        table.add_row(*(cell(item, spec) for _, spec in columns))
    if items:
        show(table)
    else:
        click.echo(f"no {key}")


def print_resource(doc: dict):
    table = Table(box=box.SIMPLE, show_header=False, show_edge=False, pad_edge=False)
    table.add_column("attribute", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in doc.items():
        if key in ("resourceURI", "operations"):
            continue
        if isinstance(value, dict) and set(value) == {"href"}:
            value = value["href"]
        elif isinstance(value, (dict, list)):
            value = json.dumps(value)
        table.add_row(key, str(value))
    ops = [short_id(o["rel"]) for o in doc.get("operations", [])]
    if ops:
        table.add_row("operations", ", ".join(ops))
    show(table)


def emit(state: State, doc, xml_href=None):
    """One resource in the chosen format (XML is fetched again, as the server renders it)."""
    if state.output == "json":
        click.echo(json.dumps(doc, indent=2))
    elif state.output == "xml":
        click.echo(state.client.get(xml_href or doc["id"], fmt="xml").rstrip())
    else:
        print_resource(doc)


class JobProgress:
    """A progress bar on stderr while a Job runs, only when stderr is a terminal."""

    def __init__(self, label: str):
        self.label, self.progress, self.task = label, None, None
        if sys.stderr.isatty():
            console = Console(file=sys.stderr, force_terminal=True)
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                                     TextColumn("{task.fields[state]}"), TimeElapsedColumn(), console=console)

    def __enter__(self):
        if self.progress:
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=100, state="QUEUED")
            self.progress.refresh()
        return self

    def update(self, job: dict):
        if self.progress:
            self.progress.update(self.task, completed=job.get("progress", 0) or 0, state=job.get("state", ""))
            self.progress.refresh()

    def sent(self, done: int, total: int):
        """Show an upload: bytes sent of total."""
        if self.progress:
            self.progress.update(self.task, completed=100 * done // max(total, 1), state="uploading")
            self.progress.refresh()

    def __exit__(self, *exc):
        if self.progress:
            self.progress.stop()


def finish(state: State, result, label: str, wait: bool, timeout):
    """After a create or action: wait for the Job (with progress) and return the resource now."""
    client = state.client
    if not wait or not result.job:
        return client.get(result.location) if (result.location and wait) else result.doc
    with JobProgress(label) as bar:
        return client.finish(result, timeout or state.timeout_jobs, on_progress=bar.update)


def report(state: State, result, resource, what: str, wait: bool):
    if not wait and result.job:
        if state.output == "json":
            click.echo(json.dumps({"job": result.job, "location": result.location}, indent=2))
        elif state.output == "xml":
            click.echo(state.client.get(result.job, fmt="xml").rstrip())
        else:
            click.echo(f"{what}: job {short_id(result.job)} started ({result.job})")
        return
    if resource is None:
        if state.output == "json":
            click.echo(json.dumps({"deleted": what, "job": result.job}, indent=2))
        elif state.output == "table":
            click.echo(f"{what}: done")
        return
    emit(state, resource)


def create_and_report(state, collection, body, what, wait, timeout):
    """POST a create, wait for its Job (unless told not to), and print the outcome."""
    result = state.client.create(collection, body)
    resource = finish(state, result, f"creating {what}", wait, timeout)
    report(state, result, resource, f"create {what}", wait)


# --- the command tree ----------------------------------------------------------------------------------
@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--endpoint", envvar="CIMI_ENDPOINT", help="the CloudEntryPoint URL [env CIMI_ENDPOINT]")
@click.option("--user", envvar="CIMI_USER", help="user name [env CIMI_USER]")
@click.option("--password", envvar="CIMI_PASSWORD", help="password [env CIMI_PASSWORD]")
@click.option("--profile", envvar="CIMI_PROFILE", default="default", help="config file section")
@click.option("--output", type=click.Choice(OUTPUTS), default="table", help="table (default), json or xml")
@click.option("--http-timeout", type=float, default=60, help="seconds per HTTP request")
@click.option("--job-timeout", type=float, default=300, help="seconds to wait for a Job")
@click.version_option(package_name="darn-simple-cloud", prog_name="cimi")
@click.pass_context
def cli(ctx, endpoint, user, password, profile, output, http_timeout, job_timeout):
    """Drive a CIMI cloud: machines, volumes, networks, images and jobs."""
    ctx.obj = State(endpoint, user, password, profile, output, http_timeout)
    ctx.obj.timeout_jobs = job_timeout


pass_state = click.make_pass_decorator(State)


def list_command(group, key, help_text):
    @group.command("list", help=help_text)
    @query_options
    @output_option
    @pass_state
    def _list(state, filters, select, first, last, orderby, expand):
        q = {"filter": list(filters), "select": select, "first": first, "last": last, "orderby": orderby,
             "expand": expand}
        if state.output == "xml":
            click.echo(state.client.query(key, fmt="xml", **q).rstrip())
            return
        doc = state.client.query(key, **q)
        if state.output == "json":
            click.echo(json.dumps(doc, indent=2))
        else:
            from cimi.client import ITEMS
            print_table(key, doc.get(ITEMS[key], []), select)
    return _list


def show_command(group, key):
    @group.command("show", help=f"Show one {KIND_NAMES[key]} (by id, name or URL).")
    @click.argument("ident")
    @click.option("--select", help="CIMI $select")
    @click.option("--expand", help="CIMI $expand")
    @output_option
    @pass_state
    def _show(state, ident, select, expand):
        resource = state.client.find(key, ident)
        if select or expand:
            resource = state.client.get(resource["id"], select=select, expand=expand)
        if state.output == "xml" and (select or expand):
            click.echo(state.client.get(resource.get("id") or ident, select=select, expand=expand, fmt="xml"))
            return
        emit(state, resource)
    return _show


def delete_command(group, key):
    @group.command("delete", help=f"Delete a {KIND_NAMES[key]}.")
    @click.argument("ident")
    @wait_options
    @output_option
    @pass_state
    def _delete(state, ident, wait, timeout):
        resource = state.client.find(key, ident)
        result = state.client.delete(resource)
        label = f"deleting {KIND_NAMES[key]} {resource.get('name') or short_id(resource['id'])}"
        gone = finish(state, result, label, wait, timeout) if result.job else None
        what = f"deleted {KIND_NAMES[key]} {short_id(resource['id'])}"
        report(state, result, gone if wait else None, what, wait)
    return _delete


def action_command(group, key, action):
    @group.command(action, help=f"{action.capitalize()} a {KIND_NAMES[key]} and wait for it.")
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
        name = resource.get("name") or short_id(resource["id"])
        after = finish(state, result, f"{action} {KIND_NAMES[key]} {name}", wait, timeout)
        report(state, result, after, f"{action} {KIND_NAMES[key]} {name}", wait)
    return _act


@cli.group()
def machines():
    """Machines: list, show, create, start, stop, restart, pause, suspend, delete."""


list_command(machines, "machines", "List machines.")
show_command(machines, "machines")
delete_command(machines, "machines")
for _action in ACTIONS:
    action_command(machines, "machines", _action)


@machines.command("create")
@click.argument("name", required=False)
@click.option("--template", help="MachineTemplate id or name")
@click.option("--config", help="MachineConfiguration id or name (with --image)")
@click.option("--image", help="MachineImage id or name (with --config)")
@click.option("--description")
@click.option("--state", "initial_state", type=click.Choice(["STARTED", "STOPPED"]), help="initial state")
@wait_options
@output_option
@pass_state
def machines_create(state, name, template, config, image, description, initial_state, wait, timeout):
    """Create a machine from a template, or from a configuration and an image."""
    if not template and not (config and image):
        raise click.UsageError("give --template, or both --config and --image")
    if template and (config or image):
        raise click.UsageError("give --template or --config/--image, not both")
    client = state.client
    body = client.machine_body(name, template=template, config=config, image=image, description=description,
                               initial_state=initial_state)
    create_and_report(state, "machines", body, f"machine {name or ''}".strip(), wait, timeout)


@cli.group()
def volumes():
    """Volumes: list, show, create, attach, detach, delete."""


list_command(volumes, "volumes", "List volumes.")
show_command(volumes, "volumes")
delete_command(volumes, "volumes")


def parse_size(text: str) -> int:
    """A size in KiB from '10G', '512M', '1T', '2048K'; a bare number is GiB."""
    units = {"K": 1, "M": 1 << 10, "G": 1 << 20, "T": 1 << 30}
    raw = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = raw[-1] if raw and raw[-1] in units else "G"
    number = raw[:-1] if raw and raw[-1] in units else raw
    try:
        kib = int(float(number) * units[unit])
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a size like 10G, 512M or 2048K") from None
    if kib <= 0:
        raise click.BadParameter("the size must be positive")
    return kib


@volumes.command("create")
@click.argument("name", required=False)
@click.option("--size", help="capacity, e.g. 10G, 512M (a bare number is GiB)")
@click.option("--config", help="VolumeConfiguration id or name")
@click.option("--template", help="VolumeTemplate id or name")
@click.option("--description")
@wait_options
@output_option
@pass_state
def volumes_create(state, name, size, config, template, description, wait, timeout):
    """Create a volume of a size, or from a configuration or template."""
    if sum(bool(x) for x in (size, config, template)) != 1:
        raise click.UsageError("give exactly one of --size, --config, --template")
    client = state.client
    body = client.volume_body(name, capacity_kib=parse_size(size) if size else None, config=config,
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
    result = client.attach(mach, vol, location)
    attachment = finish(state, result, f"attaching {vol.get('name') or short_id(vol['id'])}", wait, timeout)
    report(state, result, attachment, "attach", wait)


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
        finish(state, result, f"detaching {vol.get('name') or short_id(vol['id'])}", wait, timeout)
    report(state, result, None, f"detached volume {short_id(vol['id'])} from machine {short_id(mach['id'])}",
           wait)


@cli.group()
def networks():
    """Networks: list, show, create, start, stop, delete."""


list_command(networks, "networks", "List networks.")
show_command(networks, "networks")
delete_command(networks, "networks")
for _action in ("start", "stop"):
    action_command(networks, "networks", _action)


@networks.command("create")
@click.argument("name", required=False)
@click.option("--type", "network_type", type=click.Choice(["PRIVATE", "PUBLIC"], case_sensitive=False),
              help="network type (default PRIVATE)")
@click.option("--cidr", help="address range, e.g. 10.1.0.0/24")
@click.option("--config", help="NetworkConfiguration id or name")
@click.option("--template", help="NetworkTemplate id or name")
@click.option("--description")
@wait_options
@output_option
@pass_state
def networks_create(state, name, network_type, cidr, config, template, description, wait, timeout):
    """Create a network."""
    if (config or template) and (network_type or cidr):
        raise click.UsageError("--type/--cidr describe a new configuration; not with --config/--template")
    client = state.client
    body = client.network_body(name, network_type, cidr, config=config, template=template,
                               description=description)
    create_and_report(state, "networks", body, f"network {name or ''}".strip(), wait, timeout)


@cli.group()
def images():
    """Machine images: list, show, capture, register, delete."""


list_command(images, "machineImages", "List machine images.")
show_command(images, "machineImages")
delete_command(images, "machineImages")


@images.command("capture")
@click.argument("machine")
@click.option("--name", help="name of the new image")
@click.option("--description")
@wait_options
@output_option
@pass_state
def images_capture(state, machine, name, description, wait, timeout):
    """Capture a (stopped) MACHINE into a new image."""
    client = state.client
    mach = client.find("machines", machine)
    result = client.capture(mach, name, description)
    image = finish(state, result, f"capturing {mach.get('name') or short_id(mach['id'])}", wait, timeout)
    report(state, result, image, "capture", wait)


@images.command("register")
@click.argument("name")
@click.option("--location", required=True, help="where the image is (a URI or a storage path)")
@click.option("--description")
@wait_options
@output_option
@pass_state
def images_register(state, name, location, description, wait, timeout):
    """Register an existing image location as a machine image."""
    result = state.client.register_image(name, location, description)
    image = finish(state, result, f"registering {name}", wait, timeout)
    report(state, result, image, f"register image {name}", wait)


@cli.group()
def configs():
    """Machine configurations (sizes)."""


list_command(configs, "machineConfigs", "List machine configurations.")
show_command(configs, "machineConfigs")


@cli.group()
def templates():
    """Machine templates."""


list_command(templates, "machineTemplates", "List machine templates.")
show_command(templates, "machineTemplates")


@cli.group()
def jobs():
    """Jobs: list, show, wait."""


list_command(jobs, "jobs", "List jobs.")
show_command(jobs, "jobs")


@jobs.command("wait")
@click.argument("ident")
@click.option("--timeout", type=float, default=None, help="seconds (default: --job-timeout)")
@output_option
@pass_state
def jobs_wait(state, ident, timeout):
    """Wait for a job to finish; exit 1 unless it succeeds."""
    client = state.client
    job = client.find("jobs", ident)
    with JobProgress(f"job {short_id(job['id'])}") as bar:
        job = client.wait(job["id"], timeout or state.timeout_jobs, on_progress=bar.update)
    emit(state, job)


@cli.group()
def ovf():
    """OVF packages, read locally."""


@ovf.command("inspect")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--profile", help="deployment option to apply")
@click.option("--json", "as_json", is_flag=True, help="print one JSON document")
def ovf_inspect(path, profile, as_json):
    """Describe an OVF descriptor or OVA package (nothing is sent to the server)."""
    from ovf.errors import OVFError
    from ovf.inspect import inspect, summary
    try:
        facts = inspect(path, profile=profile)
    except OVFError as exc:
        raise click.ClickException("refused: " + " ".join(str(exc).split())) from None
    click.echo(json.dumps(facts, indent=2) if as_json else summary(facts))


def _source_uri(package: str) -> str:
    """A URI as given; a local file as its file: URI; anything else as a path the server resolves
    (under its import directory)."""
    if urllib.parse.urlsplit(package).scheme in ("http", "https", "file"):
        return package
    path = Path(package)
    return path.resolve().as_uri() if path.is_file() else package


@cli.command("import")
@click.argument("package")
@click.option("--into", type=click.Choice(["systemTemplates", "systems"]), default="systemTemplates",
              show_default=True, help="import as a SystemTemplate or as a running System")
@click.option("--profile", help="OVF deployment option to apply")
@wait_options
@output_option
@pass_state
def import_(state, package, into, profile, wait, timeout):
    """Import an OVF/OVA PACKAGE: a local .ova (uploaded), a URL, or a path in the server's import directory."""
    try:
        if into == "systemTemplates" and Path(package).is_file() and tarfile.is_tarfile(package):
            with JobProgress(f"uploading {Path(package).name}") as bar:
                result = state.client.upload_package(package, name=Path(package).stem, profile=profile,
                                                     on_sent=bar.sent)
        else:
            result = state.client.import_package(_source_uri(package), into,
                                                 properties={"profile": profile} if profile else None)
    except (NotImplementedByServer, Conflict) as exc:
        raise CimiError(f"the server does not offer import yet: {exc.message}", exc.status) from None
    created = finish(state, result, f"importing {Path(package).name}", wait, timeout)
    report(state, result, created, f"import {package}", wait)


@cli.command("export")
@click.argument("ident")
@click.option("-o", "--out", "out", required=True, type=click.Path(dir_okay=False, writable=True),
              help="where to write the package")
@click.option("--kind", type=click.Choice(["machines", "systems", "systemTemplates"]), default="machines",
              show_default=True, help="what IDENT names")
@pass_state
def export(state, ident, out, kind):
    """Export a machine (or system, system template) to an OVA file."""
    client = state.client
    resource = client.find(kind, ident)
    if client.operation(resource, "export") is None:
        raise CimiError(f"this {KIND_NAMES.get(kind, kind[:-1])} offers no export now "
                        f"(it is {resource.get('state', 'not exportable')}; export needs it STOPPED)")
    try:
        result = client.act(resource, "export", format="application/ovf")
    except NotImplementedByServer as exc:
        raise CimiError(f"the server does not offer export: {exc.message}", exc.status) from None
    package = result.location
    if result.job:
        with JobProgress(f"exporting {short_id(resource['id'])}") as bar:
            job = client.wait(result.job, state.timeout_jobs, on_progress=bar.update)
        # The package's download href is among the Job's affected resources.
        package = next((r["href"] for r in job.get("affectedResources", []) if "/exports/" in r["href"]), package)
    if not package:
        raise CimiError("the server did not say where the package is")
    data = client.request("GET", package, headers={"Accept": "*/*"}).body
    Path(out).write_bytes(data)
    click.echo(f"wrote {out} ({len(data)} bytes)")


def main(argv=None) -> int:
    """Run the command; return the exit status (0 ok, 1 error, 2 usage)."""
    try:
        cli.main(args=argv, prog_name="cimi", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return 1
    except CimiError as exc:
        click.echo(f"cimi: error: {exc}", err=True)
        return 1
    except BrokenPipeError:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
