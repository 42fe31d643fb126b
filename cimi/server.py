"""`cimi-server`: run the CIMI server, or manage its users.

Every option also comes from the environment (CIMI_BIND, CIMI_DATABASE,
CIMI_LIBVIRT_URI, CIMI_DATA_DIR, ...), so a unit file or container needs no flags.
"""
import argparse
import logging
import os
import sys

from cimi.cloud import Config

log = logging.getLogger("cimi")
FALSE_WORDS = ("0", "no", "false", "off")


def _options(parser):
    env = os.environ.get
    parser.add_argument("--bind", default=env("CIMI_BIND", "127.0.0.1:8080"), help="HOST:PORT to listen on")
    parser.add_argument("--database", default=env("CIMI_DATABASE"),
                        help="database URL (default: sqlite under the data dir; postgresql://... works the same)")
    parser.add_argument("--libvirt-uri", action="append", dest="libvirt_uris",
                        help="libvirt URI of a host; repeat for several hosts (default: test:///default)")
    parser.add_argument("--data-dir", default=env("CIMI_DATA_DIR", "./var"), help="where state is kept")
    parser.add_argument("--workers", type=int, default=int(env("CIMI_WORKERS", "4")), help="job worker threads")
    parser.add_argument("--job-lease", type=float, default=float(env("CIMI_JOB_LEASE", "15")),
                        help="seconds after which a job whose server died is failed")
    parser.add_argument("--reconcile-every", type=float, default=float(env("CIMI_RECONCILE_EVERY", "30")),
                        help="seconds between passes comparing the store with the hosts")
    parser.add_argument("--import-dir", default=env("CIMI_IMPORT_DIR"),
                        help="OVF packages may be imported from here (default: DATA_DIR/import)")
    parser.add_argument("--export-dir", default=env("CIMI_EXPORT_DIR"),
                        help="exported OVA packages are written here (default: DATA_DIR/exports)")
    parser.add_argument("--image-pool", default=env("CIMI_IMAGE_POOL"),
                        help="libvirt storage pool for images (default: default-pool on test:, else default)")
    parser.add_argument("--public-entry-point", action=argparse.BooleanOptionalAction,
                        default=env("CIMI_PUBLIC_ENTRY_POINT", "yes").strip().lower() not in FALSE_WORDS,
                        help="serve the CloudEntryPoint (its collections only) without credentials")
    parser.add_argument("--volume-pool", default=env("CIMI_VOLUME_POOL"),
                        help="libvirt storage pool for Volumes and machine disks (default: the image pool)")


def config_from(args):
    uris = args.libvirt_uris or os.environ.get("CIMI_LIBVIRT_URI", "test:///default").split(",")
    return Config(bind=args.bind, database=args.database, libvirt_uris=uris, data_dir=args.data_dir,
                  workers=args.workers, image_pool=args.image_pool, volume_pool=args.volume_pool,
                  import_dir=args.import_dir, export_dir=args.export_dir, job_lease=args.job_lease,
                  reconcile_every=args.reconcile_every, public_entry_point=args.public_entry_point)


def serve(config):
    import waitress

    import backends
    from cimi.app import create_app
    from cimi.cloud import Cloud
    try:
        cloud = Cloud(config)
    except backends.BackendError as exc:
        log.error("cannot start: %s", exc)
        return 2
    host, _, port = config.bind.rpartition(":")
    log.info("CIMI server on http://%s:%s/cimi/ (database %s, libvirt %s)", host, port,
             config.database_url.split("@")[-1], ", ".join(config.libvirt_uris))
    try:
        # waitress refuses larger bodies before buffering them (image uploads are the largest)
        waitress.serve(create_app(cloud), host=host, port=int(port), threads=8, ident="cimi",
                       max_request_body_size=max(config.max_body, config.max_upload))
    finally:
        cloud.close()
    return 0


def users(args, config):
    from cimi import auth, db, migrations, registry
    registry.load_all()
    os.makedirs(config.data_dir, exist_ok=True)
    database = db.open_database(config.database_url)
    migrations.migrate(database, [k.name for k in registry.all_kinds()])
    if args.users_command == "add":
        auth.add_user(args.name, args.password, admin=args.admin)
        print(f"user {args.name} saved{' (admin)' if args.admin else ''}")
    elif args.users_command == "delete":
        if not auth.delete_user(args.name):
            print(f"no user {args.name}", file=sys.stderr)
            return 1
        print(f"user {args.name} deleted")
    else:
        for user in auth.users():
            print(f"{user.name}\t{'admin' if user.admin else 'user'}")
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
    listing = u.add_parser("list", help="list users")
    delete = u.add_parser("delete", help="delete a user")
    delete.add_argument("name")
    for p in (add, delete, listing):
        _options(p)
    args = parser.parse_args(argv)
    config = config_from(args)
    if args.command == "users":
        return users(args, config)
    return serve(config)


if __name__ == "__main__":
    sys.exit(main())
