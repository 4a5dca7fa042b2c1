"""The C SDK as a C or C++ host installs it (docs/runtime.md, "Install the SDK"). `cmake --install` of
a source build and `vidgen sdk -o DIR` of the installed package give the same tree: both headers,
libvidgen_rt.so.N with its soname link, the ONNX Runtime library beside it under its unversioned
name too, a pkg-config file and a CMake package. The two consumer projects under examples/ build
against each tree (find_package(vidgen_rt); pkg-config), play 60 frames with no environment
variable set — ONNX Runtime comes from beside libvidgen_rt — and end on exactly the frame the
Python runtime gives for the same actions; the CMake host also opens the packed bundle from memory."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import vidgen_rt
from conftest import vidgen
from vidgen_rt.export import export_bundle
from vidgen_rt.export.writer import pack_path, write_pack
from vidgen_rt.runtime.native import Runtime

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "sdk-test"  # a persistent CMake tree: reruns rebuild only what changed
FRAMES = 60
THREADS = 2  # the same intra-op thread count as the Python side: ORT's kernels partition work by it
SDKS = ["cmake_sdk", "pip_sdk"]


def run(command, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(list(map(str, command)), capture_output=True, text=True, timeout=900, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, command))}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


def bare_env() -> dict:
    """The environment without anything that would point a host at its libraries."""
    drop = ("VGRT_ORT_LIBRARY", "LD_LIBRARY_PATH", "PKG_CONFIG_PATH", "CMAKE_PREFIX_PATH")
    return {k: v for k, v in os.environ.items() if k not in drop}


@pytest.fixture(scope="module")
def bundle(tiny_run, tmp_path_factory):
    path = export_bundle(tiny_run, tmp_path_factory.mktemp("sdk") / "tiny.vgrt", batches=[1], quiet=True)
    write_pack(path, pack_path(path))
    return path


@pytest.fixture(scope="module")
def cmake_sdk(tmp_path_factory):
    for tool in ("cmake", "make", "pkg-config", "c++", "cc"):
        assert shutil.which(tool), f"{tool} is missing: install cmake, make, pkgconf, g++ (scripts/setup.sh does)"
    prefix = tmp_path_factory.mktemp("cmake") / "sdk"
    run(["cmake", "-S", ROOT, "-B", BUILD, "-DVGRT_PYTHON=OFF", "-DVGRT_EXAMPLES=OFF", "-DCMAKE_BUILD_TYPE=Release",
         f"-DPython_EXECUTABLE={sys.executable}"])
    run(["cmake", "--build", BUILD, "-j2"])
    run(["cmake", "--install", BUILD, "--prefix", prefix])
    return prefix


@pytest.fixture(scope="module")
def pip_sdk(tmp_path_factory):
    out = tmp_path_factory.mktemp("pip") / "sdk"
    assert f"wrote the vidgen_rt C SDK to {out}" in vidgen("sdk", "-o", out).stdout
    return out


def abi() -> int:
    return vidgen_rt._native.build_info()["abi_version"]


def expected_last_frame(bundle) -> bytes:
    """The runtime's frame after the hosts' action script (examples/sdk_*/host: (i / 5 + 1) % n)."""
    runtime = Runtime(bundle, intra_op_threads=THREADS)
    stream = runtime.open_stream(1)
    n = len(runtime.actions)
    for i in range(FRAMES):
        frame = stream.step((i // 5 + 1) % n)
    return np.ascontiguousarray(frame[0]).tobytes()


def play(host: Path, bundle: Path, sdk: Path, tmp_path: Path) -> bytes:
    out = tmp_path / "last.rgba"
    result = run([host, bundle, FRAMES, out, THREADS], env=bare_env())
    assert re.match(rf"{FRAMES} frames of \d+x\d+, last frame checksum [0-9a-f]{{16}}, ONNX Runtime ", result.stdout)
    ort = Path(result.stdout.split("ONNX Runtime ", 1)[1].strip())
    assert ort.resolve().parent == (sdk / "lib").resolve(), f"ONNX Runtime loaded from {ort}, not from the SDK"
    return out.read_bytes()


@pytest.mark.parametrize("sdk_name", SDKS)
def test_the_sdk_tree(request, sdk_name):
    sdk = request.getfixturevalue(sdk_name)
    lib = sdk / "lib"
    for header in ("vidgen_rt.h", "vidgen_rt.hpp"):
        assert (sdk / "include" / header).read_bytes() == (ROOT / "native" / "include" / header).read_bytes()
    assert os.readlink(lib / "libvidgen_rt.so") == f"libvidgen_rt.so.{abi()}"
    dynamic = run(["readelf", "-d", lib / f"libvidgen_rt.so.{abi()}"]).stdout
    assert f"Library soname: [libvidgen_rt.so.{abi()}]" in dynamic
    ort = os.readlink(lib / "libonnxruntime.so")
    assert re.fullmatch(r"libonnxruntime\.so\.\d+\.\d+\.\d+", ort) and (lib / ort).is_file()
    env = dict(bare_env(), PKG_CONFIG_PATH=str(lib / "pkgconfig"))
    assert run(["pkg-config", "--modversion", "vidgen_rt"], env=env).stdout.strip() == vidgen_rt.__version__
    flags = run(["pkg-config", "--cflags", "--libs", "vidgen_rt"], env=env).stdout
    assert "-lvidgen_rt" in flags and "-Wl,-rpath," in flags
    config = (lib / "cmake" / "vidgen_rt" / "vidgen_rtConfig.cmake").read_text()
    assert f"libvidgen_rt.so.{abi()}" in config and (lib / "cmake" / "vidgen_rt" / "vidgen_rtConfigVersion.cmake").is_file()


@pytest.mark.parametrize("sdk_name", SDKS)
def test_the_cmake_consumer_plays_60_frames_of_a_directory_and_of_a_pack(request, sdk_name, bundle, tmp_path):
    sdk = request.getfixturevalue(sdk_name)
    build = tmp_path / "build"
    run(["cmake", "-S", ROOT / "examples" / "sdk_cmake", "-B", build, f"-DCMAKE_PREFIX_PATH={sdk}"], env=bare_env())
    run(["cmake", "--build", build], env=bare_env())
    expected = expected_last_frame(bundle)
    assert play(build / "sdk_cmake_host", bundle, sdk, tmp_path) == expected
    assert play(build / "sdk_cmake_host", pack_path(bundle), sdk, tmp_path) == expected


@pytest.mark.parametrize("sdk_name", SDKS)
def test_the_pkgconfig_consumer_plays_60_frames(request, sdk_name, bundle, tmp_path):
    sdk = request.getfixturevalue(sdk_name)
    moved = tmp_path / "moved-sdk"  # the tree's files locate everything relative to themselves
    shutil.copytree(sdk, moved, symlinks=True)
    host = tmp_path / "host"
    run(["make", "-C", ROOT / "examples" / "sdk_pkgconfig", f"PKG_CONFIG_PATH={moved / 'lib' / 'pkgconfig'}",
         f"OUT={host}"], env=bare_env())
    assert play(host, bundle, moved, tmp_path) == expected_last_frame(bundle)


def test_vidgen_sdk_refuses_to_replace_a_directory_that_is_not_an_sdk(tmp_path, pip_sdk):
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    for args, words in ((["-o", pip_sdk], "exists and is not empty; pass --overwrite"),
                        (["-o", other, "--overwrite"], "not an SDK (it has no include/vidgen_rt.h)")):
        result = vidgen("sdk", *args, check=False)
        assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr
    assert (other / "notes.txt").read_text() == "mine"
    vidgen("sdk", "-o", pip_sdk, "--overwrite")
    assert (pip_sdk / "lib" / f"libvidgen_rt.so.{abi()}").is_file()
