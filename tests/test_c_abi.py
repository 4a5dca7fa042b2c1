"""The C ABI as a C host sees it: vidgen_rt.h compiles as strict C99 (and vidgen_rt.hpp as C++17),
the plain-C host example builds against the installed libvidgen_rt.so and plays 300 frames into a
PPM equal to the runtime's own frame, and the native test driver (bad input, NULL / destroyed /
double-destroyed handles, snapshot/restore, sampling options, async start/stop/close races) passes on
an mse bundle and on a flow-head bundle."""

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import vidgen_rt
from vidgen_rt.export import export_bundle
from vidgen_rt.runtime.native import library_path, ort_search_dir

ROOT = Path(__file__).resolve().parents[1]
INCLUDE = ROOT / "native" / "include"
CC = shutil.which("cc") or shutil.which("gcc")
CXX = shutil.which("c++") or shutil.which("g++")
SCRIPT = [1, 1, 1, 1, 3, 3, 1, 1, 4, 4, 5, 6, 2, 0]  # c_host.c's scripted_action


@pytest.fixture(scope="module")
def bundle(tiny_run, tmp_path_factory):
    return export_bundle(tiny_run, tmp_path_factory.mktemp("cabi") / "tiny.vgrt", batches=[1], quiet=True)


def ort_library() -> str:
    found = sorted(Path(ort_search_dir()).glob("libonnxruntime.so*"))
    assert found, "the onnxruntime package ships no libonnxruntime.so"
    return str(found[0])


def build(source: Path, out: Path, *extra: str) -> Path:
    lib = library_path()
    command = [CC, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", f"-I{INCLUDE}", str(source),
               "-o", str(out), str(lib), f"-Wl,-rpath,{lib.parent}", *extra]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stderr}"
    return out


def test_header_compiles_as_strict_c_and_the_wrapper_as_cxx17(tmp_path):
    source = tmp_path / "use.c"
    source.write_text('#include "vidgen_rt.h"\n'
                      "int main(void) {\n"
                      "    vgrt_model_options o = vgrt_model_options_default();\n"
                      "    vgrt_frame f;\n"
                      "    (void)f;\n"
                      "    /* defaults suit a host sharing its cores: ONNX Runtime's pools do not spin */\n"
                      "    return o.struct_size == sizeof o && vgrt_abi_version() == VGRT_ABI_VERSION\n"
                      "           && o.allow_spinning == 0 && o.verify_checksums == 1 ? 0 : 1;\n"
                      "}\n")
    assert CC, "no C compiler"
    build(source, tmp_path / "use")
    assert subprocess.run([tmp_path / "use"], timeout=30).returncode == 0
    wrapper = tmp_path / "use.cpp"
    wrapper.write_text('#include "vidgen_rt.hpp"\n'
                       "void play(const char* path) {\n"
                       "    vidgen_rt::Model model(path);\n"
                       "    vidgen_rt::Stream stream(model);\n"
                       "    int64_t action = 0;\n"
                       "    vidgen_rt::Frame frame = stream.step(&action, 1);\n"
                       "    (void)frame.get()->rgba;\n"
                       "}\n")
    result = subprocess.run([CXX, "-std=c++17", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", f"-I{INCLUDE}",
                             str(wrapper)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_c_host_plays_300_frames_and_writes_the_runtime_frame(bundle, tmp_path):
    host = build(ROOT / "native" / "examples" / "c_host.c", tmp_path / "c_host")
    ppm = tmp_path / "last.ppm"
    env = dict(os.environ, VGRT_ORT_LIBRARY=ort_library())
    result = subprocess.run([host, bundle, "300", ppm, "2"], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "300 frames" in result.stdout and "fps" in result.stdout
    header, pixels = ppm.read_bytes().split(b"255\n", 1)
    width, height = map(int, header.split()[1:3])
    image = np.frombuffer(pixels, np.uint8).reshape(height, width, 3)

    runtime = vidgen_rt.Runtime(bundle, intra_op_threads=2)
    with runtime.open_stream(1) as stream:
        for i in range(300):
            frame = stream.step(SCRIPT[(i // 10) % len(SCRIPT)] % len(runtime.actions))
    assert np.array_equal(image, frame[0, ..., :3])


@pytest.mark.timeout(300)
def test_native_driver_bad_input_snapshots_and_async_races(bundle, tmp_path):
    driver = build(ROOT / "native" / "tests" / "test_driver.c", tmp_path / "driver", "-pthread")
    env = dict(os.environ, VGRT_ORT_LIBRARY=ort_library())
    result = subprocess.run([driver, bundle, "all", "200"], capture_output=True, text=True, env=env, timeout=280)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all checks passed" in result.stdout
    assert "sampling: head mse" in result.stdout


@pytest.mark.timeout(300)
def test_native_driver_on_a_flow_head(tiny_flow_bundle, tmp_path):
    driver = build(ROOT / "native" / "tests" / "test_driver.c", tmp_path / "driver", "-pthread")
    env = dict(os.environ, VGRT_ORT_LIBRARY=ort_library())
    result = subprocess.run([driver, tiny_flow_bundle, "all", "40"], capture_output=True, text=True, env=env,
                            timeout=280)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sampling: head flow_conv, K = 2" in result.stdout and "all checks passed" in result.stdout


def test_missing_ort_library_is_a_clear_error(bundle, tmp_path):
    driver = tmp_path / "probe.c"
    driver.write_text('#include <stdio.h>\n#include "vidgen_rt.h"\n'
                      "int main(int argc, char** argv) {\n"
                      "    vgrt_model* m = NULL;\n"
                      "    int status = vgrt_model_create(argv[1], NULL, &m);\n"
                      '    printf("%d %s\\n", status, vgrt_last_error());\n'
                      "    (void)argc;\n"
                      "    return m == NULL ? 0 : 1;\n"
                      "}\n")
    probe = build(driver, tmp_path / "probe")
    env = dict(os.environ, VGRT_ORT_LIBRARY=str(tmp_path / "nowhere" / "libonnxruntime.so"))
    result = subprocess.run([probe, bundle], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0
    assert result.stdout.startswith(f"{-4} ") and "cannot load ONNX Runtime" in result.stdout
