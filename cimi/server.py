"""`cimi-server`: run the CIMI server, or manage its users.

Every option also comes from the environment (CIMI_BIND, CIMI_DATABASE,
CIMI_LIBVIRT_URI, CIMI_DATA_DIR, ...), so a unit file or container needs no flags.
"""
import argparse
import logging
import os
import re
import sys

from cimi.cloud import Config

log = logging.getLogger("cimi")
DOMAIN_TYPES = ("auto", "kvm", "qemu")
FALSE_WORDS = ("0", "no", "false", "off")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def retention_table(text):
    """Parse "machines=7d,volumes=12h,machineImages=30d" into {collection: seconds} (no unit: seconds)."""
    from cimi.ops.quarantine import KEEPERS
    table = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        name, _, value = (x.strip() for x in part.partition("="))
        amount = re.fullmatch(r"(\d+)([smhd]?)", value)
        if name not in KEEPERS or amount is None:
            raise argparse.ArgumentTypeError(f"{part!r} is not COLLECTION=N[s|m|h|d] with COLLECTION one of "
                                             f"{', '.join(KEEPERS)}")
        table[name] = int(amount[1]) * _UNITS[amount[2] or "s"]
    return table


def _options(parser, inherited=False):
    """Add the server options; `inherited`: on a subcommand, where they only override the parent's."""
    def env(name, default=None):
        return argparse.SUPPRESS if inherited else os.environ.get(name, default)
    parser.add_argument("--bind", default=env("CIMI_BIND", "127.0.0.1:8080"), help="HOST:PORT to listen on")
    parser.add_argument("--database", default=env("CIMI_DATABASE"),
                        help="database URL (default: sqlite under the data dir; postgresql://... works the same)")
    parser.add_argument("--libvirt-uri", action="append", dest="libvirt_uris",
                        default=argparse.SUPPRESS if inherited else None,
                        help="libvirt URI of a host; repeat for several hosts (default: test:///default)")
    parser.add_argument("--data-dir", default=env("CIMI_DATA_DIR", "./var"), help="where state is kept")
    parser.add_argument("--workers", type=int, default=env("CIMI_WORKERS", 4), help="job worker threads")
    parser.add_argument("--job-lease", type=float, default=env("CIMI_JOB_LEASE", 15.0),
                        help="seconds after which a job whose server died is failed")
    parser.add_argument("--reconcile-every", type=float, default=env("CIMI_RECONCILE_EVERY", 30.0),
                        help="seconds between passes comparing the store with the hosts")
    parser.add_argument("--import-dir", default=env("CIMI_IMPORT_DIR"),
                        help="OVF packages may be imported from here (default: DATA_DIR/import)")
    parser.add_argument("--export-dir", default=env("CIMI_EXPORT_DIR"),
                        help="exported OVA packages are written here (default: DATA_DIR/exports)")
    parser.add_argument("--export-retention", type=float, default=env("CIMI_EXPORT_RETENTION", 7.0),
                        metavar="DAYS", help="exported packages are removed this many days after the export")
    parser.add_argument("--quarantine-retention", type=retention_table, default=env("CIMI_QUARANTINE_RETENTION", ""),
                        metavar="COLLECTION=N[smhd],...",
                        help="keep deleted machines, volumes and machineImages in quarantine this long, e.g. "
                             "machines=7d,volumes=7d,machineImages=30d (default: none, removed at once)")
    parser.add_argument("--image-pool", default=env("CIMI_IMAGE_POOL"),
                        help="libvirt storage pool for images (default: default-pool on test:, else default)")
    parser.add_argument("--public-entry-point", action=argparse.BooleanOptionalAction,
                        default=env("CIMI_PUBLIC_ENTRY_POINT", "yes").strip().lower() not in FALSE_WORDS,
                        help="serve the CloudEntryPoint (its collections only) without credentials")
    parser.add_argument("--volume-pool", default=env("CIMI_VOLUME_POOL"),
                        help="libvirt storage pool for Volumes and machine disks (default: the image pool)")
    parser.add_argument("--default-network", default=env("CIMI_DEFAULT_NETWORK", "default"),
                        help="NAT Network given to Machines created without networkInterfaces, created when "
                             "missing (an existing libvirt network of that name is adopted); '' for none")
    parser.add_argument("--default-network-cidr", default=env("CIMI_DEFAULT_NETWORK_CIDR", "192.168.122.0/24"),
                        help="address range of a default Network the server creates")
    parser.add_argument("--lease-poll", type=float, default=env("CIMI_LEASE_POLL", 2.0),
                        help="seconds between DHCP lease reads while a started Machine has no address yet (0: off)")
    parser.add_argument("--detach-timeout", type=float, default=env("CIMI_DETACH_TIMEOUT", 30.0),
                        help="seconds a running guest has to release a detached Volume before the detach fails")
    parser.add_argument("--domain-type", choices=DOMAIN_TYPES, default=env("CIMI_DOMAIN_TYPE", "auto"),
                        help="libvirt domain type of new machines: kvm, qemu (TCG: no hardware "
                             "virtualisation needed, slower) or auto (kvm when the host offers it)")
    parser.add_argument("--console-dir", default=env("CIMI_CONSOLE_DIR"),
                        help="where the hosts keep machines' serial console logs (default: libvirt's "
                             "QEMU log directory; must be writable by virtlogd, readable by the server)")
    parser.add_argument("--stop-timeout", type=float, default=env("CIMI_STOP_TIMEOUT", 60.0),
                        help="seconds a graceful stop waits for the guest before powering it off")
    parser.add_argument("--resume-on-start", choices=("start", "report"), default=env("CIMI_RESUME_ON_START", "start"),
                        help="machines the store holds STARTED that their host shows shut off: start them, "
                             "or report them (left STOPPED)")
    parser.add_argument("--no-create-pool", dest="create_pool", action="store_false",
                        default=argparse.SUPPRESS if inherited else env("CIMI_CREATE_POOL", "1") != "0",
                        help="refuse to start when a pool is missing (default: create a directory pool)")


def config_from(args):
    uris = args.libvirt_uris or os.environ.get("CIMI_LIBVIRT_URI", "test:///default").split(",")
    return Config(bind=args.bind, database=args.database, libvirt_uris=uris, data_dir=args.data_dir,
                  workers=args.workers, image_pool=args.image_pool, volume_pool=args.volume_pool,
                  import_dir=args.import_dir, export_dir=args.export_dir, job_lease=args.job_lease,
                  reconcile_every=args.reconcile_every, detach_timeout=args.detach_timeout, lease_poll=args.lease_poll,
                  default_network=args.default_network, default_network_cidr=args.default_network_cidr,
                  domain_type=None if args.domain_type == "auto" else args.domain_type,
                  console_dir=args.console_dir, create_pool=args.create_pool,
                  stop_timeout=args.stop_timeout, resume_on_start=args.resume_on_start,
                  export_retention=args.export_retention * 86400,
                  quarantine_retention=args.quarantine_retention,
                  public_entry_point=args.public_entry_point)


def serve(config):
    import waitress

    import backends
    from cimi import store
    from cimi.http.app import create_app
    from cimi.cloud import Cloud
    try:
        cloud = Cloud(config)
    except backends.BackendError as exc:
        log.error("cannot start: %s", exc)
        return 2
    host, _, port = config.bind.rpartition(":")
    log.info("CIMI server on http://%s:%s/cimi/ (database %s, libvirt %s)", host, port,
             store.display_url(config.database_url), ", ".join(config.libvirt_uris))
    try:
        # waitress refuses larger bodies before buffering them (image uploads are the largest)
        waitress.serve(create_app(cloud), host=host, port=int(port), threads=8, ident="cimi",
                       max_request_body_size=max(config.max_body, config.max_upload))
    finally:
        cloud.close()
    return 0


def users(args, config):
    from cimi import auth, errors, kinds, store
    from cimi.store import migrations
    kinds.load_all()
    try:
        used = getattr(args, "create", False) or store.initialized(config.database_url)
    except Exception as exc:                   # noqa: BLE001 - any driver's connection error
        print(f"cannot read the database {store.display_url(config.database_url)}: {exc}", file=sys.stderr)
        return 2
    if not used:
        print(f"no cloud has used the database {store.display_url(config.database_url)} yet: start cimi-server "
              "on it first, check --database/--data-dir, or pass --create to start a new one", file=sys.stderr)
        return 2
    if not config.database:
        os.makedirs(config.data_dir, exist_ok=True)         # the default SQLite file lives there
    database = store.open_database(config.database_url)
    migrations.migrate(database)
    if args.users_command == "add":
        try:
            auth.add_user(args.name, args.password, admin=args.admin, groups=args.groups)
        except errors.BadRequest as exc:
            print(exc, file=sys.stderr)
            return 2
        print(f"user {args.name} saved{' (admin)' if args.admin else ''}"
              f"{' in ' + ', '.join(args.groups) if args.groups else ''}")
    elif args.users_command == "delete":
        try:
            deleted = auth.delete_user(args.name)
        except errors.Conflict as exc:
            print(exc, file=sys.stderr)
            return 1
        if not deleted:
            print(f"no user {args.name}", file=sys.stderr)
            return 1
        print(f"user {args.name} deleted")
    elif args.users_command == "delete-group":
        if not auth.delete_group(args.name):
            print(f"no group {args.name}", file=sys.stderr)
            return 1
        print(f"group {args.name} deleted, and what was shared with it")
    else:
        for user in auth.users():
            groups = auth.groups_of(user.name)
            print(f"{user.name}\t{'admin' if user.admin else 'user'}" + (f"\t{','.join(groups)}" if groups else ""))
    return 0


def main(argv=None):
    logging.basicConfig(level=os.environ.get("CIMI_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="cimi-server", description=__doc__.splitlines()[0])
    _options(parser)
    sub = parser.add_subparsers(dest="command")
    u = sub.add_parser("users", help="manage users").add_subparsers(dest="users_command", required=True)
    add = u.add_parser("add", help="add a user or change their password")
    add.add_argument("name")
    add.add_argument("--password", required=True)
    add.add_argument("--admin", action="store_true")
    add.add_argument("--group", dest="groups", action="append", default=[], metavar="GROUP",
                     help="also put the user in this group (repeatable); resources shared with it reach them")
    add.add_argument("--create", action="store_true", help="create the database if no server ever used it")
    listing = u.add_parser("list", help="list users")
    delete = u.add_parser("delete", help="delete a user")
    delete.add_argument("name")
    delete_group = u.add_parser("delete-group", help="delete a group and what was shared with it")
    delete_group.add_argument("name")
    for p in (add, delete, listing, delete_group):
        _options(p, inherited=True)
    args = parser.parse_args(argv)
    if args.domain_type not in DOMAIN_TYPES:         # NOTE: argparse does not check a default from the environment
        parser.error(f"CIMI_DOMAIN_TYPE must be one of {', '.join(DOMAIN_TYPES)}, not {args.domain_type!r}")
    config = config_from(args)
    if args.command == "users":
        return users(args, config)
    return serve(config)


if __name__ == "__main__":
    sys.exit(main())
