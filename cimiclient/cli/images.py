"""`cimi images`, `cimi configs`, `cimi templates`: what machines are made from."""
from pathlib import Path

import click

from cimiclient.cli.app import cli, pass_state
from cimiclient.cli.common import (
    Listing,
    attr,
    conclude,
    create_and_report,
    create_options,
    crud_commands,
    label,
    output_option,
    read_file,
    share_commands,
    short,
)
from cimiclient.cli.output import JobProgress, kib
from cimiclient.cli.volumes import parse_size

IMAGES = Listing("image", [("ID", short), ("NAME", attr("name")), ("STATE", attr("state")), ("TYPE", attr("type")),
                           ("LOCATION", attr("imageLocation"))])
CONFIGS = Listing("configuration", [("ID", short), ("NAME", attr("name")), ("CPU", attr("cpu")),
                                    ("MEMORY", attr("memory", kib)), ("DESCRIPTION", attr("description"))])
TEMPLATES = Listing("template", [("ID", short), ("NAME", attr("name")), ("CONFIG", attr("machineConfig")),
                                 ("IMAGE", attr("machineImage")), ("DESCRIPTION", attr("description"))])


@cli.group()
def images():
    """Machine images: list, show, upload, capture, register, delete."""


crud_commands(images, "machineImages", IMAGES)
share_commands(images, "machineImages", "image")


@images.command("capture")
@click.argument("machine")
@click.option("--name", help="name of the new image")
@create_options
def images_capture(state, machine, name, description, wait, timeout):
    """Capture MACHINE into a new image (clean when stopped, crash-consistent while it runs)."""
    mach = state.client.find("machines", machine)
    conclude(state, state.client.capture(mach, name, description), f"capture {label(mach)}", wait, timeout)


@images.command("register")
@click.argument("name")
@click.option("--location", required=True, help="where the image is (a file: URI or a path in the server's "
              "import directory)")
@create_options
def images_register(state, name, location, description, wait, timeout):
    """Register an image file the server can read as a machine image."""
    conclude(state, state.client.register_image(name, location, description), f"register image {name}", wait,
             timeout)


@images.command("upload")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", help="name of the new image (default: the file's name without extension)")
@click.option("--public", is_flag=True, help="let everyone use it (read-only; `cimi images unshare --public`)")
@create_options
def images_upload(state, path, name, public, description, wait, timeout):
    """Upload a local disk image file (qcow2, raw, vmdk) as a new machine image."""
    name = name or Path(path).stem
    with JobProgress(f"uploading {Path(path).name}", transfer=True) as bar:
        result = state.client.upload_image(path, name, description, on_sent=bar.sent, public=public)
    conclude(state, result, f"upload image {name}", wait, timeout)


@cli.group()
def configs():
    """Machine configurations (sizes): list, show; create and delete (admins)."""


crud_commands(configs, "machineConfigs", CONFIGS)
share_commands(configs, "machineConfigs", "configuration")


@configs.command("create")
@click.argument("name")
@click.option("--cpu", type=click.IntRange(min=1), required=True)
@click.option("--memory", required=True, help="e.g. 2G, 512M (a bare number is GiB)")
@click.option("--disk", help="root disk size, e.g. 10G")
@click.option("--description")
@output_option
@pass_state
def configs_create(state, name, cpu, memory, disk, description):
    """Create a machine configuration."""
    body = state.client.configuration_body(name, cpu, parse_size(memory), disk and parse_size(disk), description)
    create_and_report(state, "machineConfigs", body, f"configuration {name}")


@cli.group()
def templates():
    """Machine templates: list, show, create, delete."""


crud_commands(templates, "machineTemplates", TEMPLATES)
share_commands(templates, "machineTemplates", "template")


@templates.command("create")
@click.argument("name")
@click.option("--config", required=True, help="MachineConfiguration id or name")
@click.option("--image", required=True, help="MachineImage id or name")
@click.option("--credential", help="Credential id or name")
@click.option("--network", "networks", multiple=True, metavar="NET", help="a Network for a NIC (repeatable)")
@click.option("--user-data", type=click.Path(dir_okay=False), metavar="FILE")
@click.option("--description")
@output_option
@pass_state
def templates_create(state, name, config, image, credential, networks, user_data, description):
    """Create a machine template."""
    data = read_file(user_data, "user-data") if user_data else None
    body = state.client.template_body(name, config, image, credential, networks, (), data, description)
    create_and_report(state, "machineTemplates", body, f"template {name}")
