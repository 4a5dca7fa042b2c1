"""The ABI stamp (vidgen_rt.h, "ABI rule"): a host compiled against a vidgen_rt.h whose
VGRT_ABI_VERSION or struct layout differs from the library's is refused. Each case compiles the
same C host against a copy of the header (unchanged, an older version, a newer version, a grown
vgrt_model_options), links the installed libvidgen_rt.so.N and runs it: every vgrt_*_init refuses the
foreign stamp with VGRT_ERROR_ABI_MISMATCH and writes nothing, and vgrt_model_create refuses the
stamped options before it looks at the bundle, with a message naming both versions and sizes."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from vidgen_rt.runtime.native import library_path

ROOT = Path(__file__).resolve().parents[1]
HEADER = ROOT / "native" / "include" / "vidgen_rt.h"
CC = shutil.which("cc") or shutil.which("gcc")

# Prints, per struct, the init status and whether the struct kept its 0xAB filling (nothing written),
# then the status and message of vgrt_model_create on the inline-default options.
HOST = r"""
#include <stdio.h>
#include "vidgen_rt.h"

#define INIT(type)                                                                               \
    {                                                                                            \
        type value;                                                                              \
        size_t i;                                                                                \
        int untouched = 1;                                                                       \
        int status;                                                                              \
        memset(&value, 0xAB, sizeof value);                                                      \
        status = type##_init(&value, VGRT_ABI_VERSION, (uint32_t)sizeof value);                  \
        for (i = 0; i < sizeof value; ++i) untouched &= ((unsigned char*)&value)[i] == 0xAB;     \
        printf("%s %d %d\n", #type, status, untouched);                                          \
    }

int main(void) {
    vgrt_model_options options = vgrt_model_options_default();
    vgrt_model* model = NULL;
    int status;
    INIT(vgrt_model_options)
    INIT(vgrt_stream_options)
    INIT(vgrt_postprocess)
    INIT(vgrt_model_info)
    INIT(vgrt_stats)
    status = vgrt_model_create("/nonexistent.vgrt", &options, &model);
    printf("create %d %s\n", status, vgrt_last_error());
    printf("abi %d %d\n", VGRT_ABI_VERSION, vgrt_abi_version());
    return 0;
}
"""
STRUCTS = ["vgrt_model_options", "vgrt_stream_options", "vgrt_postprocess", "vgrt_model_info", "vgrt_stats"]


def library_abi() -> int:
    return int(re.search(r"^#define VGRT_ABI_VERSION (\d+)$", HEADER.read_text(), re.M).group(1))


def run_host(tmp_path: Path, header_text: str) -> dict:
    """Compile HOST against `header_text` as vidgen_rt.h, run it, return its lines by first word."""
    include = tmp_path / "include"
    include.mkdir()
    (include / "vidgen_rt.h").write_text(header_text)
    (tmp_path / "host.c").write_text(HOST)
    lib = library_path()
    assert CC, "no C compiler (cc or gcc) on PATH"
    command = [CC, "-std=c99", "-Wall", "-Wextra", "-Werror", f"-I{include}", str(tmp_path / "host.c"),
               "-o", str(tmp_path / "host"), str(lib), f"-Wl,-rpath,{lib.parent}"]
    built = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    ran = subprocess.run([tmp_path / "host"], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    return {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in ran.stdout.splitlines()}


def with_version(version: int) -> str:
    return re.sub(r"^#define VGRT_ABI_VERSION \d+$", f"#define VGRT_ABI_VERSION {version}", HEADER.read_text(),
                  flags=re.M)


def test_the_current_header_is_accepted(tmp_path):
    out = run_host(tmp_path, HEADER.read_text())
    for name in STRUCTS:
        assert out[name] == "0 0", f"{name}: init must succeed and fill the struct"
    # The stamp passed, so the bundle path is what fails: VGRT_ERROR_BUNDLE (-3).
    assert out["create"].startswith("-3 "), out["create"]
    assert out["abi"] == f"{library_abi()} {library_abi()}"


@pytest.mark.parametrize("offset", [-1, +1], ids=["older_header", "newer_header"])
def test_a_header_of_another_version_is_refused(tmp_path, offset):
    version = library_abi() + offset
    out = run_host(tmp_path, with_version(version))
    for name in STRUCTS:
        assert out[name] == "-7 1", f"{name}: a foreign stamp must give VGRT_ERROR_ABI_MISMATCH and write nothing"
    status, message = out["create"].split(" ", 1)
    assert status == "-7"
    assert f"abi_version {version}" in message and f"this library is ABI {library_abi()}" in message
    assert "rebuild the host against this library's vidgen_rt.h" in message
    assert out["abi"] == f"{version} {library_abi()}"


def test_a_grown_struct_of_the_same_version_is_refused_by_its_size(tmp_path):
    text = HEADER.read_text().replace("    int32_t verify_checksums;", "    int32_t verify_checksums;\n    int64_t added;", 1)
    assert "int64_t added;" in text
    out = run_host(tmp_path, text)
    assert out["vgrt_model_options"] == "-7 1"
    assert out["vgrt_stream_options"] == "0 0", "only the changed struct is refused"
    status, message = out["create"].split(" ", 1)
    assert status == "-7" and "struct_size" in message
