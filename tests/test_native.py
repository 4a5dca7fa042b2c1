"""The native module and the installed layout: vidgen_rt._native reports the project's version and
how it was built, and export/ and viewer/ are importable only as vidgen_rt.export / vidgen_rt.viewer,
from any working directory, never as top-level `export` / `viewer`.
"""

import json
import os
import subprocess
import sys

import vidgen_rt
from vidgen_rt import _native

BUILD_INFO_KEYS = {"version", "compiler_id", "compiler_version", "cxx_standard", "build_type"}


def test_native_version_is_the_package_version():
    assert _native.version() == vidgen_rt.__version__


def test_build_info_describes_the_build():
    info = _native.build_info()
    assert BUILD_INFO_KEYS <= set(info), f"missing keys: {BUILD_INFO_KEYS - set(info)}"
    assert info["version"] == vidgen_rt.__version__
    assert info["cxx_standard"] == "c++17"  # CMakeLists.txt builds C++17 without extensions
    for key in BUILD_INFO_KEYS:
        assert isinstance(info[key], str) and info[key], f"build_info()[{key!r}] = {info[key]!r}"


def test_export_and_viewer_are_vidgen_rt_subpackages():
    import vidgen_rt.export
    import vidgen_rt.viewer

    assert "ONNX" in vidgen_rt.export.__doc__
    assert "GLFW" in vidgen_rt.viewer.__doc__


def test_installed_layout_from_a_neutral_directory(tmp_path):
    # A fresh interpreter outside the repository: `python -m pytest` run from the repo root puts the
    # root on sys.path, which would make `export` importable here regardless of the install.
    probe = (
        "import importlib, importlib.util, json\n"
        "found = {}\n"
        "for name in ('export', 'viewer', 'vidgen_rt.export', 'vidgen_rt.viewer', 'vidgen_rt._native'):\n"
        "    found[name] = importlib.util.find_spec(name) is not None\n"
        "importlib.import_module('vidgen_rt._native').build_info()\n"
        "print(json.dumps(found))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "export": False, "viewer": False,
        "vidgen_rt.export": True, "vidgen_rt.viewer": True, "vidgen_rt._native": True,
    }
