"""PEP 517 build backend for vidgen_rt: scikit-build-core, with editable installs kept strict.

scikit-build-core's "redirect" editable wheel maps every installed module to its source through an
import hook, honouring `wheel.packages` (vidgen_rt.export -> export/, vidgen_rt.viewer -> viewer/).
Its .pth file also appends each package's source root to sys.path for IDEs; with this flat layout
those roots are the repository and its parent folder, so `import export`, `import viewer` (and any
folder beside the clone) would import as top-level names. This backend rewrites the editable wheel's
.pth files to keep only their `import` lines: the hook alone resolves vidgen_rt and all its
subpackages, the compiled `_native` included. Every other hook is scikit-build-core's, unchanged.
"""

import base64
import csv
import hashlib
import io
import os
import zipfile
from pathlib import Path

from scikit_build_core.build import *  # noqa: F401,F403  (the PEP 517 hooks, re-exported)
from scikit_build_core.build import build_editable as _skbuild_build_editable


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    name = _skbuild_build_editable(wheel_directory, config_settings, metadata_directory)
    _strip_pth_paths(Path(wheel_directory) / name)
    return name


def _strip_pth_paths(wheel_path: Path) -> None:
    """Rewrite the wheel in place: top-level .pth files keep only `import` lines; RECORD follows."""
    with zipfile.ZipFile(wheel_path) as wheel:
        entries = [(info, wheel.read(info)) for info in wheel.infolist()]
    rewritten = {}
    for info, data in entries:
        if "/" not in info.filename and info.filename.endswith(".pth"):
            lines = data.decode().splitlines()
            rewritten[info.filename] = "".join(f"{ln}\n" for ln in lines if ln.startswith("import "))
    if not rewritten:
        return
    tmp_path = wheel_path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp_path, "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in entries:
            if info.filename in rewritten:
                data = rewritten[info.filename].encode()
            elif info.filename.endswith(".dist-info/RECORD"):
                data = _updated_record(data, rewritten)
            out.writestr(info, data)
    os.replace(tmp_path, wheel_path)


def _updated_record(record: bytes, rewritten: dict) -> bytes:
    rows = list(csv.reader(io.StringIO(record.decode())))
    for row in rows:
        if row and row[0] in rewritten:
            data = rewritten[row[0]].encode()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            row[1:3] = [f"sha256={digest}", str(len(data))]
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    return text.getvalue().encode()
