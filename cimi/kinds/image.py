"""MachineImage: a blank or registered disk image, or a capture of a Machine (cimi/ops/images.py).

A POST whose imageLocation is a Machine captures it (DSP0263 5.14.7.1): a
clean copy when it is stopped, a crash-consistent one while it runs; one
whose imageLocation is a file: URI or path under the import directory
registers that file; a POST of the raw bytes (application/octet-stream,
`?name=`) uploads one (a provider extension, see the capabilities). Other
images are made by the provider (seeded) or by an OVF import.
"""
from cimi.ops import images, quarantine
from cimi.registry import Kind, register
from cimi.store.links import KEEP, Link

OCTET_STREAM = "application/octet-stream"

register(Kind("MachineImage", "machineImages", create_schema="MachineImage", create=images.prepare,
              delete=lambda ctx, row: quarantine.instead(ctx, "machineImages", row, images.delete),
              refresh=images.refresh, deletable_states=frozenset({"AVAILABLE", "ERROR", "CREATING"}),
              jobs={"capture": images.capture, "register": images.register, "delete": images.delete,
                    "quarantine": quarantine.keep_image},
              uploads={OCTET_STREAM: images.receive_upload}, links=(Link("_machine", "Machine", KEEP),),
              metered={"bytes": "_bytes"},
              capabilities=(("ImageRegistration", "true",
                             "imageLocation may be a file: URI or path under the provider's import directory; "
                             "properties sha256 (checked) and format (qcow2, raw, vmdk) are optional"),
                            ("ImageUpload", "true",
                             f"provider extension: POST the raw bytes to this collection as {OCTET_STREAM} "
                             "with ?name= (and optional description=, sha256=, format=, public=true)"),
                            ("ImageFormats", "qcow2,raw,vmdk", "vmdk is converted to qcow2; backing files, "
                             "external data files and format mismatches are refused"))))
