#!/usr/bin/env bash
# Set up everything `make serve` and `make test` need, idempotently:
# Debian packages (when root and missing), then .venv with the package installed.
set -euo pipefail
cd "$(dirname "$0")/.."

# libvirt-dev/pkg-config build libvirt-python; qemu-utils gives qemu-img;
# the daemon, QEMU and network tools serve the tests that drive a real libvirtd;
# dosfstools, mtools, syslinux and cpio build the tests' guest disk (tests/guest/build.py);
# openssl hashes Credential passwords for guests (`openssl passwd -6`);
# openssh-client gives `cimi machines ssh` its ssh and the Libcloud driver ssh-keygen.
PACKAGES="libvirt-dev pkg-config libvirt-clients libvirt-daemon libvirt-daemon-driver-qemu
qemu-utils qemu-system-x86 dnsmasq-base iptables genisoimage postgresql
dosfstools mtools syslinux cpio openssl openssh-client"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "bootstrap: installing Debian packages:$missing"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    else
        echo "bootstrap: missing Debian packages:$missing (run as root, or install them)" >&2
    fi
fi

# The UI tests drive Debian's Chromium through its chromedriver (same package version, so they
# always match). In some containers the package's post-install (udev) exits non-zero although the
# browser is usable, so the install's status is ignored and the binaries are checked instead.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "bootstrap: installing Debian packages: chromium chromium-driver"
        apt-get update -qq || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver \
            >/dev/null || true
    fi
    if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
        echo "bootstrap: /usr/bin/chromium or /usr/bin/chromedriver is missing; the UI tests (tests/ui/) will be skipped" >&2
    fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
