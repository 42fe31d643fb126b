"""Read a guest's serial console and the sections its /init prints there.

`SerialConsole` reads a running domain's console through a libvirt stream,
until the backend keeps a console log of its own; `wait_for` works on any
callable returning the console text so far (the API's console too).
"""
import re
import threading
import time

import libvirt
from lxml import etree

from tests.guest.build import BEGIN, END


class SerialConsole:
    """Collect a running domain's serial console output in a thread.

    The stream lives on its own connection: a blocking recv there must not
    hold up the caller's calls. Use as a context manager.
    """

    def __init__(self, uri, domain_uuid):
        self._conn = libvirt.open(uri)
        self._stream = self._conn.newStream(0)
        self._conn.lookupByUUIDString(domain_uuid).openConsole(None, self._stream, 0)
        self._received = bytearray()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self):
        try:
            while data := self._stream.recv(65536):
                with self._lock:
                    self._received += data
        except libvirt.libvirtError:
            pass                    # NOTE: aborted by close(), or the domain went away

    def text(self):
        """The output so far, decoded, with serial CRLFs made plain newlines."""
        with self._lock:
            return self._received.decode(errors="replace").replace("\r\n", "\n")

    def close(self):
        try:
            self._stream.abort()
        except libvirt.libvirtError:
            pass
        self._thread.join(5)
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def ensure_serial(uri, domain_uuid):
    """Give a stopped domain a pty serial port (ttyS0) unless it has one.

    NOTE: until the backend's domains carry a serial console of their own
    (h/console); then this does nothing and can go.
    """
    conn = libvirt.open(uri)
    try:
        dom = conn.lookupByUUIDString(domain_uuid)
        conf = etree.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        devices = conf.find("devices")
        if devices.find("serial") is None:
            serial = etree.SubElement(devices, "serial", type="pty")
            etree.SubElement(serial, "target", port="0")
            conn.defineXML(etree.tostring(conf, encoding="unicode"))
    finally:
        conn.close()


def wait_for(read, pattern, timeout, poll=0.2):
    """Poll read() until the regex matches; return the match, or None at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        found = re.search(pattern, read(), re.DOTALL)
        if found or time.monotonic() > deadline:
            return found
        time.sleep(poll)


def section_pattern(name):
    """A regex matching one section /init printed; group 1 is its content."""
    return re.escape(BEGIN.format(name)) + r"\n(.*?)\n?" + re.escape(END.format(name))


def section(text, name):
    """The content of a section in the console text, or None."""
    found = re.search(section_pattern(name), text, re.DOTALL)
    return found.group(1) if found else None
