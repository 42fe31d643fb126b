"""A real libvirtd with QEMU for the `libvirtd`-marked tests.

There is no systemd here, so the session fixture does what the Debian
packages and udev would: the `libvirt-qemu` user and groups, /dev/kvm
group-accessible, and the daemons started with `-d`. It undoes exactly what
it did, and skips (loudly) when libvirtd cannot serve qemu:///system.
"""
import grp
import os
import pathlib
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import libvirt
import pytest

from backends.libvirt import xml

URI = "qemu:///system"
PIDFILES = {"virtlogd": "/run/virtlogd.pid", "libvirtd": "/run/libvirtd.pid"}
KVM = "/dev/kvm"


def _run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def _exists(lookup, name):
    try:
        lookup(name)
        return True
    except KeyError:
        return False


def _daemon_running(name):
    """Tell whether a daemon's pidfile names a live process."""
    try:
        os.kill(int(pathlib.Path(PIDFILES[name]).read_text().strip()), 0)
        return True
    except (OSError, ValueError):
        return False


class Setup:
    """Record each change so that teardown can revert exactly those."""

    def __init__(self):
        self.undo = []

    def accounts(self):
        # Debian's libvirt runs QEMU as libvirt-qemu:libvirt-qemu, in kvm.
        for group in ("kvm", "libvirt-qemu"):
            if not _exists(grp.getgrnam, group):
                _run("groupadd", "-r", group)
                self.undo.append(("groupdel", group))
        if not _exists(pwd.getpwnam, "libvirt-qemu"):
            _run("useradd", "-r", "-g", "libvirt-qemu", "-G", "kvm", "-d",
                 "/var/lib/libvirt", "-s", "/usr/sbin/nologin", "libvirt-qemu")
            self.undo.insert(0, ("userdel", "libvirt-qemu"))

    def kvm(self):
        # NOTE: with /dev/kvm present but closed to QEMU, libvirt 9.0 re-probes
        # QEMU's capabilities on every call (~40 s per start); udev normally
        # makes it root:kvm 0660.
        if not os.path.exists(KVM):
            return
        st = os.stat(KVM)
        kvm_gid = grp.getgrnam("kvm").gr_gid
        if st.st_gid != kvm_gid or not st.st_mode & 0o060 == 0o060:
            os.chown(KVM, st.st_uid, kvm_gid)
            os.chmod(KVM, (st.st_mode & 0o7777) | 0o060)
            self.undo.append(("kvm", st.st_uid, st.st_gid, st.st_mode & 0o7777))

    def daemons(self):
        for path in ("/var/log/libvirt", "/run/libvirt"):
            os.makedirs(path, exist_ok=True)
        for name in ("virtlogd", "libvirtd"):
            if _daemon_running(name) or not shutil.which(name, path="/usr/sbin:/usr/bin"):
                continue
            _run(shutil.which(name, path="/usr/sbin:/usr/bin"), "-d")
            for _ in range(50):
                if _daemon_running(name):
                    break
                time.sleep(0.1)
            self.undo.insert(0, ("daemon", name))

    def started(self, name):
        return ("daemon", name) in self.undo

    def restart_libvirtd(self):
        """Kill and restart the libvirtd this fixture started."""
        self.stop_libvirtd()
        self.start_libvirtd()

    def stop_libvirtd(self):
        self._kill("libvirtd")

    def start_libvirtd(self):
        _run(shutil.which("libvirtd", path="/usr/sbin:/usr/bin"), "-d")
        conn = _connect()
        assert conn is not None, "libvirtd did not come back"
        conn.close()

    @staticmethod
    def _kill(name):
        pid = int(pathlib.Path(PIDFILES[name]).read_text().strip())
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            if not _daemon_running(name):
                break
            time.sleep(0.1)

    def revert(self):
        for step in self.undo:
            if step[0] == "daemon" and _daemon_running(step[1]):
                self._kill(step[1])
            elif step[0] == "kvm":
                os.chown(KVM, step[1], step[2])
                os.chmod(KVM, step[3])
            elif step[0] in ("userdel", "groupdel"):
                _run(*step)


def _connect():
    for _ in range(50):
        try:
            return libvirt.open(URI)
        except libvirt.libvirtError:
            time.sleep(0.1)
    return None


@pytest.fixture(scope="session")
def libvirtd_setup():
    """Ensure a libvirtd serving qemu:///system; yield the `Setup` done."""
    if os.geteuid() != 0:
        pytest.skip("LIBVIRTD TESTS SKIPPED: need root to run libvirtd")
    if not shutil.which("libvirtd", path="/usr/sbin:/usr/bin"):
        pytest.skip("LIBVIRTD TESTS SKIPPED: libvirtd is not installed")
    setup = Setup()
    try:
        setup.accounts()
        setup.kvm()
        setup.daemons()
        conn = _connect()
        if conn is None:
            pytest.skip("LIBVIRTD TESTS SKIPPED: libvirtd did not answer on "
                        f"{URI}; see /var/log/libvirt/libvirtd.log")
        conn.close()
        yield setup
    finally:
        setup.revert()


@pytest.fixture(scope="session")
def libvirtd(libvirtd_setup):
    """The URI of a running libvirtd."""
    return URI


@pytest.fixture(scope="session")
def libvirtd_pool(libvirtd):
    """A dir storage pool under a tmp dir, and a 64 MiB blank qcow2 file.

    Yields (pool name, path of the qcow2 to upload as an image).
    """
    # NOTE: not pytest's tmp_path: /tmp/pytest-of-root is 0700, and QEMU runs
    # as libvirt-qemu, which must reach the pool directory.
    root = pathlib.Path(tempfile.mkdtemp(prefix="dsc-libvirtd-", dir="/var/tmp"))
    os.chmod(root, 0o755)
    pool_dir = root / "pool"
    pool_dir.mkdir(mode=0o755)
    disk = root / "blank.qcow2"
    made = _run("qemu-img", "create", "-q", "-f", "qcow2", str(disk), "64M")
    assert made.returncode == 0, made.stderr
    name = "dsc-test-" + uuid.uuid4().hex[:8]
    conn = libvirt.open(libvirtd)
    conf = xml.StoragePool(type=xml.StoragePool.TYPE_DIR, name=name, target_path=str(pool_dir))
    conn.storagePoolDefineXML(conf.to_xml()).create(0)
    conn.close()
    try:
        yield name, str(disk)
    finally:
        conn = libvirt.open(libvirtd)      # a test may have restarted libvirtd
        pool = conn.storagePoolLookupByName(name)
        for vol in pool.listAllVolumes(0):
            vol.delete(0)
        pool.destroy()
        pool.undefine()
        conn.close()
        shutil.rmtree(root)
