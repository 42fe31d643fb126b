"""Build a tiny bootable x86_64 guest disk from Debian packages alone.

The disk is a FAT file system without partition table (syslinux boots it from
its first sector), written with mtools: no loop device, no mount, no root
needed except for `apt-get download`. It holds a Debian kernel and a busybox
initramfs whose /init finds the cloud-init NoCloud drive (label `cidata`),
prints its files on the serial console between markers (see `BEGIN`/`END`),
runs DHCP on eth0, prints the address, and then idles so the machine stays up.

    python -m tests.guest.build OUT.qcow2 [--kernel generic|cloud]
"""
import argparse
import gzip
import hashlib
import lzma
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

KERNELS = {"generic": "linux-image-amd64", "cloud": "linux-image-cloud-amd64"}
BUSYBOX = "busybox-static"
# Debian packages whose programs the build runs (apt-get download aside).
TOOLS = {"mkfs.fat": "dosfstools", "mcopy": "mtools", "syslinux": "syslinux", "cpio": "cpio",
         "qemu-img": "qemu-utils", "dpkg-deb": "dpkg"}
PACKAGES = sorted(set(TOOLS.values()))
# What /init loads: virtio disks and NIC, a CD-ROM on IDE, SATA or virtio-scsi,
# and ISO 9660. A module a kernel lacks (the cloud kernel has no AHCI) is skipped.
MODULES = ["virtio_pci", "virtio_blk", "virtio_net", "virtio_scsi", "ata_piix", "ahci",
           "sr_mod", "isofs"]
SBIN = "/usr/local/sbin:/usr/sbin:/sbin"

# /init prints sections block-devices, cidata (the device read, or NOT FOUND),
# user-data, meta-data, network-config and dhcp (the address) between these.
BEGIN, END = "==== DSC {} BEGIN ====", "==== DSC {} END ===="

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
section() { echo "==== DSC $1 BEGIN ===="; echo "$2"; echo "==== DSC $1 END ===="; }
for m in %(modules)s; do insmod /lib/modules/$m.ko 2>/dev/null; done
cidata=""
for i in $(seq 40); do
    cidata=$(findfs LABEL=cidata 2>/dev/null) && break
    sleep 0.25
done
section block-devices "$(ls /sys/class/block | tr '\n' ' ')"
section cidata "${cidata:-NOT FOUND}"
if [ -n "$cidata" ] && mount -t iso9660 -o ro "$cidata" /mnt; then
    for f in user-data meta-data network-config; do
        section $f "$(cat /mnt/$f)"
    done
    name=$(sed -n 's/^local-hostname: *//p' /mnt/meta-data | tr -d "\"'")
    [ -n "$name" ] && hostname "$name"
fi
ip link set lo up
ip link set eth0 up
until udhcpc -i eth0 -s /etc/udhcpc.script -n -q -t 10 -T 1 -x hostname:"$(hostname)"; do sleep 1; done
echo "==== DSC ready after $(cut -d" " -f1 /proc/uptime) s of guest uptime ===="
while true; do sleep 3600; done
"""

DHCP_SCRIPT = r"""#!/bin/sh
case "$1" in
    deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
    bound|renew)
        ip addr flush dev "$interface"
        ip addr add "$ip/$mask" dev "$interface"
        [ -n "$router" ] && ip route add default via "${router%% *}" dev "$interface"
        echo "==== DSC dhcp BEGIN ===="; echo "$ip"; echo "==== DSC dhcp END ====" ;;
esac
"""

SYSLINUX_CFG = """SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 1
LABEL linux
  KERNEL vmlinuz
  INITRD initrd.gz
  APPEND console=ttyS0,115200 quiet
"""


class BuildError(Exception):
    """The image cannot be built here (a tool or package is missing)."""


def _tool(name):
    path = shutil.which(name) or shutil.which(name, path=SBIN)
    if path is None:
        raise BuildError(f"{name} not found (Debian package {TOOLS[name]})")
    return path


def _run(*cmd, cwd=None):
    try:
        done = subprocess.run([_tool(cmd[0]) if cmd[0] in TOOLS else cmd[0], *cmd[1:]], cwd=cwd,
                              capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BuildError(f"{cmd[0]} not found: not a Debian system?") from None
    if done.returncode != 0:
        raise BuildError(f"{' '.join(cmd)} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def candidate_version(package):
    """The version apt would download for a package, or raise BuildError."""
    out = _run("apt-cache", "policy", package)
    found = re.search(r"Candidate: (\S+)", out)
    if not found or found.group(1) == "(none)":
        raise BuildError(f"apt knows no version of {package} (apt-get update?)")
    return found.group(1)


def cache_key(kernel):
    """Hash this builder's source and the versions of what goes into the image."""
    h = hashlib.sha256(pathlib.Path(__file__).read_bytes())
    for package in (KERNELS[kernel], BUSYBOX):
        h.update(f"{package}={candidate_version(package)}\n".encode())
    return f"{kernel}-{h.hexdigest()[:16]}"


def _download(workdir, *packages):
    """apt-get download packages into workdir; return their .deb paths."""
    _run("apt-get", "download", "-q", *packages, cwd=workdir)
    debs = []
    for package in packages:
        found = sorted(pathlib.Path(workdir).glob(f"{package}_*.deb"))
        if not found:
            raise BuildError(f"apt-get download {package} left no .deb")
        debs.append(found[0])
    return debs


def _kernel_package(workdir, meta):
    """Download the versioned kernel package a metapackage depends on; return its .deb."""
    meta_deb, = _download(workdir, meta)
    depends = _run("dpkg-deb", "-f", str(meta_deb), "Depends")
    found = re.search(r"(linux-image-[^\s,|(]+)", depends)
    if not found:
        raise BuildError(f"{meta} depends on no linux-image package: {depends!r}")
    deb, = _download(workdir, found.group(1))
    return deb


def _module_index(root):
    """Map module names (underscored) to their .ko or .ko.xz files."""
    index = {}
    for path in root.glob("lib/modules/*/kernel/**/*.ko*"):
        name = path.name.split(".ko")[0].replace("-", "_")
        index[name] = path
    return index


def _module_bytes(path):
    data = path.read_bytes()
    return lzma.decompress(data) if path.name.endswith(".xz") else data


def _depends(data):
    """The `depends=` of a module's .modinfo section (NUL-separated key=value strings)."""
    found = re.search(rb"\0depends=([^\0]*)\0", data)
    return [d.decode().replace("-", "_") for d in found.group(1).split(b",") if d] if found else []


def _modules(kernel_root, wanted):
    """Return [(name, bytes)] for the wanted modules present, dependencies first."""
    index = _module_index(kernel_root)
    ordered, seen = [], set()

    def visit(name):
        if name in seen:
            return
        seen.add(name)
        data = _module_bytes(index[name])
        for dep in _depends(data):
            visit(dep)
        ordered.append((name, data))

    for name in wanted:
        if name in index:
            visit(name)
    return ordered


def _initramfs(workdir, kernel_root, busybox_root):
    """Write the gzipped newc cpio of the initramfs; return its path."""
    tree = workdir / "initramfs"
    for d in ("bin", "dev", "etc", "lib/modules", "mnt", "proc", "sys", "tmp"):
        (tree / d).mkdir(parents=True, exist_ok=True)
    shutil.copy(busybox_root / "bin" / "busybox", tree / "bin" / "busybox")
    modules = _modules(kernel_root, MODULES)
    for name, data in modules:
        (tree / "lib" / "modules" / f"{name}.ko").write_bytes(data)
    (tree / "init").write_text(INIT % {"modules": " ".join(name for name, _ in modules)})
    (tree / "etc" / "udhcpc.script").write_text(DHCP_SCRIPT)
    for path in ("init", "etc/udhcpc.script", "bin/busybox"):
        os.chmod(tree / path, 0o755)
    names = sorted(str(p.relative_to(tree)) for p in tree.rglob("*"))
    cpio = subprocess.run([_tool("cpio"), "-o", "-H", "newc", "-R", "0:0", "--quiet"], cwd=tree,
                          input="\n".join(names).encode(), capture_output=True, check=False)
    if cpio.returncode != 0:
        raise BuildError(f"cpio failed: {cpio.stderr.decode().strip()}")
    out = workdir / "initrd.gz"
    out.write_bytes(gzip.compress(cpio.stdout, 6))
    return out


def build(out, kernel="generic"):
    """Build the guest disk as a qcow2 at `out`."""
    if kernel not in KERNELS:
        raise BuildError(f"unknown kernel {kernel!r}; one of {', '.join(KERNELS)}")
    with tempfile.TemporaryDirectory(prefix="dsc-guest-build-") as tmp:
        workdir = pathlib.Path(tmp)
        os.chmod(workdir, 0o755)           # NOTE: apt-get download runs as _apt where it can
        kernel_deb = _kernel_package(workdir, KERNELS[kernel])
        busybox_deb, = _download(workdir, BUSYBOX)
        kernel_root, busybox_root = workdir / "kernel", workdir / "busybox"
        _run("dpkg-deb", "-x", str(kernel_deb), str(kernel_root))
        _run("dpkg-deb", "-x", str(busybox_deb), str(busybox_root))
        vmlinuz, = (kernel_root / "boot").glob("vmlinuz-*")
        initrd = _initramfs(workdir, kernel_root, busybox_root)
        (workdir / "syslinux.cfg").write_text(SYSLINUX_CFG)
        fat = workdir / "disk.raw"
        size_kib = (vmlinuz.stat().st_size + initrd.stat().st_size) // 1024 + 4096
        _run("mkfs.fat", "-C", "-n", "DSCGUEST", str(fat), str(size_kib))
        shutil.copy(vmlinuz, workdir / "vmlinuz")
        _run("mcopy", "-i", str(fat), str(workdir / "vmlinuz"), str(initrd),
             str(workdir / "syslinux.cfg"), "::/")
        _run("syslinux", "--install", str(fat))
        _run("qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", str(fat), str(out))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.guest.build", description=__doc__.split("\n")[0])
    parser.add_argument("out", help="the qcow2 file to write")
    parser.add_argument("--kernel", choices=sorted(KERNELS), default="generic",
                        help="Debian's generic kernel (AHCI included) or its cloud kernel (no AHCI)")
    args = parser.parse_args(argv)
    try:
        build(args.out, args.kernel)
    except BuildError as exc:
        sys.exit(f"build failed: {exc}")


if __name__ == "__main__":
    main()
