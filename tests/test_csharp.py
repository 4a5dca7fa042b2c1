"""The C# binding (bindings/csharp/) under Mono, the runtime family Unity scripts run on: it compiles
with `mcs`, its P/Invoke structs have the C compiler's sizes and field offsets and it imports every
function of vidgen_rt.h, the console host plays 300 frames whose last one equals the Python runtime's
for the same actions (and, on a flow head, the same seed, temperature and K), and every safe-layer
call behaves as the C ABI says (Checks.cs). The programs run against the SDK of `vidgen sdk`, found
as a C# host finds it: VidgenRt.dll.config maps "vidgen_rt" to libvidgen_rt.so.N on the loader's
path, and ONNX Runtime is the copy beside it. Without Mono the tests fail naming the packages to
install; they never skip."""

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import vidgen_rt
from conftest import vidgen
from vidgen_rt.export.writer import write_pack
from vidgen_rt.runtime.noise import noise_bits

ROOT = Path(__file__).resolve().parents[1]
BINDING = ROOT / "bindings" / "csharp"
HEADER = ROOT / "native" / "include" / "vidgen_rt.h"
LIBRARY_SOURCES = ["NativeMethods.cs", "VidgenRt.cs", "Model.cs", "Stream.cs"]
SCRIPT = [1, 1, 1, 1, 3, 3, 1, 1, 4, 4, 5, 6, 2, 0]  # ConsoleHost.cs's script (c_host.c's)


def mono_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` not found: install the Debian packages mono-mcs and mono-runtime "
                    f"(scripts/setup.sh installs them when run as root)")
    return path


class Mono:
    """The compiled programs (VidgenRt.dll with its dllmap config, vidgen_host.exe, vidgen_checks.exe)
    and the SDK they run against."""

    def __init__(self, out: Path, sdk: Path):
        self.out, self.sdk = out, sdk

    def run(self, program: str, *args, check: bool = True) -> subprocess.CompletedProcess:
        """Run a program with the SDK's lib/ on the loader's path and no other variable."""
        env = {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": str(self.sdk / "lib")}
        result = subprocess.run([mono_tool("mono"), self.out / program, *map(str, args)], capture_output=True,
                                text=True, env=env, timeout=600)
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result


@pytest.fixture(scope="module")
def mono(tmp_path_factory) -> Mono:
    mcs, out = mono_tool("mcs"), tmp_path_factory.mktemp("csharp")
    mono_tool("mono")
    shutil.copy(BINDING / "VidgenRt.dll.config", out / "VidgenRt.dll.config")
    for command in ([mcs, "-target:library", f"-out:{out / 'VidgenRt.dll'}", *LIBRARY_SOURCES],
                    [mcs, f"-out:{out / 'vidgen_host.exe'}", f"-r:{out / 'VidgenRt.dll'}", "ConsoleHost.cs"],
                    [mcs, f"-out:{out / 'vidgen_checks.exe'}", f"-r:{out / 'VidgenRt.dll'}", "Checks.cs"]):
        result = subprocess.run(command, cwd=BINDING, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout}{result.stderr}"
        assert "warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    vidgen("sdk", "-o", out / "sdk")
    return Mono(out, out / "sdk")


@pytest.fixture(scope="module")
def bundle(tiny_bundle):
    return tiny_bundle


def read_ppm(path: Path) -> np.ndarray:
    header, pixels = path.read_bytes().split(b"255\n", 1)
    width, height = map(int, header.split()[1:3])
    return np.frombuffer(pixels, np.uint8).reshape(height, width, 3)


def c_layout(tmp_path: Path, csharp_lines: list[str]) -> list[str]:
    """The same lines as Checks.cs's layout dump, computed by the C compiler from vidgen_rt.h."""
    prints = []
    for line in csharp_lines:
        kind, name, *rest = line.split()
        if kind == "struct":
            prints.append(f'printf("struct {name} %zu\\n", sizeof({name}));')
        elif kind == "field":
            prints.append(f'printf("field {name} {rest[0]} %zu\\n", offsetof({name}, {rest[0]}));')
        elif kind == "const":
            prints.append(f'printf("const {name} %d\\n", (int){name});')
        else:
            prints.append(f'printf("function {name}\\n");')
    source = tmp_path / "layout.c"
    source.write_text('#include <stddef.h>\n#include <stdio.h>\n#include "vidgen_rt.h"\n'
                      "int main(void) {\n    " + "\n    ".join(prints) + "\n    return 0;\n}\n")
    compiler = shutil.which("cc") or shutil.which("gcc")
    result = subprocess.run([compiler, "-std=c99", f"-I{HEADER.parent}", str(source), "-o", str(tmp_path / "layout")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return subprocess.run([tmp_path / "layout"], capture_output=True, text=True, timeout=30, check=True).stdout.splitlines()


def test_structs_constants_and_functions_match_the_c_header(mono, tmp_path):
    lines = mono.run("vidgen_checks.exe", "layout").stdout.splitlines()
    assert c_layout(tmp_path, lines) == lines
    header = HEADER.read_text()
    structs = set(re.findall(r"typedef struct (vgrt_\w+) \{", header))
    assert {line.split()[1] for line in lines if line.startswith("struct ")} == structs
    functions = set(re.findall(r"VGRT_API [^;(]*?\b(vgrt_\w+)\(", header))
    assert {line.split()[1] for line in lines if line.startswith("function ")} == functions, \
        "NativeMethods.cs must import every VGRT_API function of vidgen_rt.h and nothing else"
    constants = set(re.findall(r"^#define (VGRT_[A-Z_]+) \d+", header, re.M)) | set(re.findall(r"\b(VGRT_[A-Z_]+) = ", header))
    assert {line.split()[1] for line in lines if line.startswith("const ")} == constants
    abi = re.search(r"^#define VGRT_ABI_VERSION (\d+)", header, re.M).group(1)
    assert f'target="libvidgen_rt.so.{abi}"' in (BINDING / "VidgenRt.dll.config").read_text()


def test_console_host_plays_300_frames_like_the_python_runtime(mono, bundle, tmp_path):
    ppm = tmp_path / "last.ppm"
    result = mono.run("vidgen_host.exe", bundle, "--out", ppm, "--threads", 1)
    assert "300 frames in" in result.stdout and "action 1 forward keys [W,UP]" in result.stdout
    stepper = vidgen_rt.open_stepper(bundle, backend="native", intra_op_threads=1)
    for i in range(300):
        frame = stepper.step(SCRIPT[(i // 10) % len(SCRIPT)] % len(stepper.info.action_names))
    assert np.array_equal(read_ppm(ppm), frame[0, ..., :3])


def test_console_host_on_a_flow_head_with_seed_temperature_and_steps(mono, tiny_flow_bundle, tmp_path):
    ppm = tmp_path / "last.ppm"
    mono.run("vidgen_host.exe", tiny_flow_bundle, "--frames", 60, "--out", ppm, "--seed", 2**40 + 7,
             "--temperature", 0.7, "--sampling-steps", 1)
    stepper = vidgen_rt.open_stepper(tiny_flow_bundle, backend="native", seed=2**40 + 7, temperature=0.7,
                                     sampling_steps=1)
    for i in range(60):
        frame = stepper.step(SCRIPT[(i // 10) % len(SCRIPT)] % len(stepper.info.action_names))
    assert np.array_equal(read_ppm(ppm), frame[0, ..., :3])
    default = vidgen_rt.open_stepper(tiny_flow_bundle, backend="native", seed=0)
    for i in range(60):
        other = default.step(SCRIPT[(i // 10) % len(SCRIPT)] % len(default.info.action_names))
    assert not np.array_equal(other, frame), "the seed must reach the runtime"


def test_every_safe_layer_call(mono, bundle, tmp_path):
    pack = write_pack(bundle, tmp_path / "tiny.vgrtpack")
    result = mono.run("vidgen_checks.exe", bundle, pack, check=False)
    assert result.returncode == 0 and "all checks passed" in result.stdout, result.stdout + result.stderr
    library = Path(re.search(r"^backend library (.*)$", result.stdout, re.M).group(1))
    assert library.parent == mono.sdk / "lib", "ONNX Runtime is found beside libvidgen_rt, with no variable set"
    noise = re.search(r"^noise (.*)$", result.stdout, re.M).group(1).split()
    assert [int(v) for v in noise] == noise_bits(2**40 + 7, 3, (8,)).tolist()


def test_a_bad_bundle_is_one_line_naming_the_call_and_the_reason(mono, tmp_path):
    broken = tmp_path / "broken.vgrt"
    broken.mkdir()
    result = mono.run("vidgen_host.exe", broken, check=False)
    assert result.returncode == 1
    assert re.fullmatch(r"vidgen_host: vgrt_model_create\(.*broken\.vgrt\): .*manifest\.json.* \(bad bundle\)\n",
                        result.stderr), result.stderr
