"""Export: a volume's bytes streamed out of libvirt into a local file.

virStorageVolDownload works for a remote libvirtd too, and is read chunk by
chunk into the file, so memory stays flat whatever the disk's size. A
machine's disk is a qcow2 overlay on its image; it is first flattened into a
temporary volume (createXMLFrom runs `qemu-img convert` through the backing
chain, as capture does) so the exported bytes never name a backing file.
"""
import subprocess
import uuid

import libvirt

from backends import model
from backends.base import BackendError
from backends.libvirt import designer, xml

CHUNK = 1 << 20        # download stream chunk: 1 MiB


def export_disk(host, vol, dest_path):
    """Write the standalone content of the volume `vol` into dest_path; return its ImageInfo."""
    conf = xml.StorageVolume.parse(vol.XMLDesc(0))
    capacity = vol.info()[1]
    if host.uri.startswith("test:"):
        # NOTE: the test driver keeps no bytes and cannot download; a blank qcow2 of
        # the volume's capacity stands for its content, as its volumes stand for real ones.
        made = subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(dest_path), str(capacity)],
                              capture_output=True, text=True, check=False)
        if made.returncode != 0:
            raise BackendError(f"cannot write a blank qcow2: {made.stderr.strip()}")
        return model.ImageInfo(key=vol.key(), capacity_bytes=capacity, format="qcow2", host=host.name)
    source, temp = vol, None
    if conf.backing_path:
        pool = vol.storagePoolLookupByVolume()
        name = f"{vol.name()}-export-{uuid.uuid4().hex[:8]}.qcow2"
        temp = pool.createXMLFrom(designer.copy_volume(name, capacity).to_xml(), vol, 0)
        source = temp
    try:
        fmt = xml.StorageVolume.parse(source.XMLDesc(0)).target_format or xml.StorageVolume.FORMAT_RAW
        if fmt not in xml.StorageVolume.FORMATS:
            raise BackendError(f"cannot export a {fmt} volume")
        _download(host, source, dest_path)
    finally:
        if temp is not None:
            host.delete_volume(temp)
    return model.ImageInfo(key=vol.key(), capacity_bytes=capacity, format=fmt, host=host.name)


def _download(host, vol, dest_path):
    """Stream all of vol's bytes into dest_path, one chunk at a time."""
    stream = host.new_stream()
    vol.download(stream, 0, 0, 0)
    try:
        with open(dest_path, "wb") as out:
            while True:
                data = stream.recv(CHUNK)
                if isinstance(data, int):      # -2: would block (only on non-blocking streams)
                    if data == -2:
                        continue
                    raise BackendError("volume download failed")
                if not data:
                    break
                out.write(data)
        stream.finish()
    except BaseException:
        try:
            stream.abort()
        except libvirt.libvirtError:
            pass
        raise
