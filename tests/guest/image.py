"""The `guest_image` session fixture: the tiny guest disk, built once and cached.

The cache (/var/tmp/dsc-guest-cache/<kernel>-<hash>.qcow2) is keyed by the
builder's source and the versions of the Debian packages in the image, so a
new kernel or a changed builder makes a new image. Older ones are kept (a test
session on another branch may be using one); remove the directory to reclaim.
"""
import fcntl
import os
import pathlib
import subprocess

import pytest

from tests.guest import build

CACHE = pathlib.Path("/var/tmp/dsc-guest-cache")


def _install_missing(packages):
    """apt-get install the packages that are missing, when root; failures are left to the build."""
    missing = [p for p in packages if subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True,
        check=False).stdout != "install ok installed"]
    if missing and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                       capture_output=True, check=False,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def cached_image(kernel):
    """Return the path of the cached guest qcow2 for a kernel, building it when missing.

    Raises:
        build.BuildError: it cannot be built here.
    """
    _install_missing(build.PACKAGES)
    key = build.cache_key(kernel)
    path = CACHE / f"{key}.qcow2"
    CACHE.mkdir(mode=0o755, parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)        # NOTE: concurrent test sessions build once
        if not path.exists():
            partial = path.with_suffix(".partial")
            build.build(partial, kernel)
            os.replace(partial, path)
    return str(path)


@pytest.fixture(scope="session", params=list(build.KERNELS))
def guest_image(request):
    """Path of the guest qcow2, once per kernel variant ("generic", "cloud").

    Debian's generic kernel sees a config drive on SATA, IDE or virtio-scsi;
    its cloud kernel has no AHCI driver, so not on SATA.
    """
    try:
        return cached_image(request.param)
    except build.BuildError as exc:
        pytest.skip(f"GUEST TESTS SKIPPED: cannot build the guest image: {exc}")
