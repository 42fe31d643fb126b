"""The contract between the CIMI front end and a hypervisor backend.

Every method is synchronous (the front end runs it inside a Job worker), takes
and returns `backends.model` objects, and raises only the errors below. Calls
that create take the caller's stable name, and are idempotent on it: creating
what already exists under that name with the same spec returns it instead of
failing, so a Job replayed after a crash does not duplicate anything. Deleting
what is already gone succeeds.
"""
from backends import model


class BackendError(Exception):
    """A backend fault the caller cannot fix (maps to a failed Job / 500)."""


class NotFound(BackendError):
    """The object named by a key does not exist (any more)."""


class Conflict(BackendError):
    """The object is in a state that does not allow the call."""


class Unavailable(BackendError):
    """The hypervisor cannot be reached now; retry later (maps to 503)."""


class Unsupported(BackendError):
    """This backend cannot do that for this host (maps to 501)."""


class Backend:
    """Interface every backend implements; see the module docstring."""

    # Hosts and placement
    def hosts(self) -> list[model.HostInfo]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # Images: a MachineImage's or VolumeImage's bytes in a storage pool
    def create_image(self, name: str, capacity_bytes: int, source_path: str | None = None,
                     source_format: str | None = None, host: str | None = None) -> model.ImageInfo:
        """Create an image volume: blank, or filled from a local file.

        source_format must be given with source_path (never probed here).
        """
        raise NotImplementedError

    def capture_machine(self, machine_key: str, name: str) -> model.ImageInfo:
        """Copy a machine's root disk into a new standalone image.

        A STOPPED machine gives a clean image; a STARTED or PAUSED one is
        captured without stopping it, crash-consistent (what a power cut
        would leave), and its disk is the same file afterwards.
        """
        raise NotImplementedError

    def delete_image(self, key: str) -> None:
        raise NotImplementedError

    def export_disk(self, key: str, dest_path: str) -> model.ImageInfo:
        """Write the guest-visible content of a volume or image into a local file.

        key names a machine disk (MachineInfo.disks), a Volume or an image;
        dest_path is created or truncated. The bytes are streamed (memory
        stays flat whatever the size) and stand alone: a copy-on-write
        overlay is flattened, so the file never names a backing file. The
        machine using the disk should be STOPPED. Returns the key, the
        guest-visible capacity and the format of the bytes written
        ("qcow2" or "raw"), which the caller passes on explicitly.
        """
        raise NotImplementedError

    # Machines
    def create_machine(self, spec: model.MachineSpec) -> model.MachineInfo:
        """Define the machine (stopped); disks backed by images are overlays."""
        raise NotImplementedError

    def machine(self, key: str) -> model.MachineInfo:
        """Look a machine up by its key, or by the name it was created with."""
        raise NotImplementedError

    def list_machines(self) -> list[model.MachineInfo]:
        raise NotImplementedError

    def start_machine(self, key: str) -> model.MachineInfo:
        """Boot a STOPPED machine, resume a PAUSED one, restore a SUSPENDED one; one in ERROR boots afresh.

        A started machine is marked to start again when its host restarts;
        stop and suspend clear that mark.
        """
        raise NotImplementedError

    def stop_machine(self, key: str, force: bool = False, timeout: float = 60.0,
                     waiting=None) -> model.MachineInfo:
        """Shut down (graceful, then forced after timeout seconds) or power off (force).

        waiting(elapsed_seconds), when given, is called about every second while
        the guest has not shut down yet, and once with elapsed == timeout when
        the backend gives up and powers it off.
        """
        raise NotImplementedError

    def restart_machine(self, key: str, force: bool = False, timeout: float = 60.0,
                        waiting=None) -> model.MachineInfo:
        """Shut down as stop_machine does (waiting reported alike), then boot; force resets at once."""
        raise NotImplementedError

    def pause_machine(self, key: str) -> model.MachineInfo:
        raise NotImplementedError

    def suspend_machine(self, key: str) -> model.MachineInfo:
        """Save the machine's memory to disk (managed save) and stop it."""
        raise NotImplementedError

    def delete_machine(self, key: str) -> None:
        """Destroy and undefine the machine and remove the disks it owns."""
        raise NotImplementedError

    def keep_machine(self, key: str) -> dict:
        """Remove the machine as delete_machine does but keep its disks (a quarantine); NotFound if gone.

        Returns plain data (JSON-serialisable) that restore_machine and
        drop_machine take; attached volumes are released, as by a delete.
        """
        raise NotImplementedError

    def restore_machine(self, kept: dict) -> model.MachineInfo:
        """Define a kept machine again, STOPPED, with the same disks; idempotent."""
        raise NotImplementedError

    def drop_machine(self, kept: dict) -> None:
        """Remove a kept machine's disks for good; what is gone already is skipped."""
        raise NotImplementedError

    def console_log(self, key: str, tail_lines: int) -> str:
        """Return the last lines of the machine's serial console ("" if it never ran).

        The log lives on the host's filesystem: a host this process cannot
        read files of (a remote libvirt URI) raises Unsupported.
        """
        raise NotImplementedError

    # Volumes
    def create_volume(self, spec: model.VolumeSpec) -> model.VolumeInfo:
        raise NotImplementedError

    def delete_volume(self, key: str) -> None:
        raise NotImplementedError

    def discard_volume(self, name: str, host: str | None = None) -> None:
        """Delete what a create_volume cut short left under this name, if anything."""
        raise NotImplementedError

    def attach_volume(self, machine_key: str, volume_key: str, target: str | None = None,
                      bus: str | None = None) -> str:
        """Attach to a running or stopped machine; return the target device.

        bus: "virtio", "ide", "scsi" or "sata"; None: the one the target's name says (hd: ide, sd: scsi), else virtio.
        """
        raise NotImplementedError

    def detach_volume(self, machine_key: str, volume_key: str, timeout: float = 30.0) -> None:
        """Detach once the running guest released the device; Conflict (still attached) after timeout."""
        raise NotImplementedError

    def volume_attachment(self, machine_key: str, volume_key: str) -> str | None:
        """Bring the machine's definition in line with its running self; return the volume's target or None."""
        raise NotImplementedError

    def volume_holders(self, key: str) -> list[str]:
        """Name the machines (domains) whose definition or running self holds the volume."""
        raise NotImplementedError

    def snapshot_volume(self, key: str, name: str) -> model.ImageInfo:
        """Copy a Volume's content into a new standalone image (a VolumeImage's bytes).

        The Volume must not be in use by a running machine (the copy would
        not be consistent); the copy stands alone (no backing file).
        """
        raise NotImplementedError

    # Networks
    def create_network(self, spec: model.NetworkSpec) -> model.NetworkInfo:
        """Define the network (stopped)."""
        raise NotImplementedError

    def ensure_network(self, spec: model.NetworkSpec) -> model.NetworkInfo:
        """Define the network on spec.host unless it has one of that name (adopted as it is), and start it."""
        raise NotImplementedError

    def start_network(self, key: str) -> model.NetworkInfo:
        raise NotImplementedError

    def stop_network(self, key: str) -> model.NetworkInfo:
        raise NotImplementedError

    def network_links(self, key: str) -> list[tuple[str, str, bool]]:
        """The running machines' interfaces on a network: (machine name, mac, connected to it)."""
        raise NotImplementedError

    def delete_network(self, key: str) -> None:
        raise NotImplementedError

    def network(self, key: str) -> model.NetworkInfo:
        raise NotImplementedError

    def network_leases(self, key: str) -> list[tuple[str, str, str | None]]:
        """The network's current DHCP leases as (mac, ip, hostname); [] when it hands out none."""
        raise NotImplementedError
