"""Write the C SDK of this installed package into a directory, for C and C++ hosts of pip users.

DIR receives the tree `cmake --install` gives a source build (docs/runtime.md, "Install the SDK"):
  include/vidgen_rt.h, include/vidgen_rt.hpp
  lib/libvidgen_rt.so.N and libvidgen_rt.so -> libvidgen_rt.so.N   (N: the C ABI version)
  lib/libonnxruntime.so.X.Y.Z (the onnxruntime package's) and libonnxruntime.so -> it
  lib/pkgconfig/vidgen_rt.pc, lib/cmake/vidgen_rt/vidgen_rtConfig.cmake (+ ConfigVersion)
A host then builds with pkg-config (PKG_CONFIG_PATH=DIR/lib/pkgconfig) or CMake
(find_package(vidgen_rt), CMAKE_PREFIX_PATH=DIR) and runs without environment variables:
libvidgen_rt loads the ONNX Runtime beside itself. The tree may be moved; its files use relative
paths.

examples:
  vidgen sdk -o ~/vidgen-sdk
  vidgen sdk -o third_party/vidgen_rt --overwrite
"""

import os
import shutil
from pathlib import Path

HELP = "write the C SDK (headers, libvidgen_rt, ONNX Runtime, pkg-config and CMake files) to a directory"


def configure(parser) -> None:
    parser.add_argument("-o", "--out", type=Path, required=True, metavar="DIR", help="directory to write")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing SDK directory")


def run(args) -> int:
    from vidgen_rt.errors import ConfigError
    from vidgen_rt.preflight import output_dir

    output_dir(args.out, "-o")
    if args.out.exists() and any(args.out.iterdir()):
        if not args.overwrite:
            raise ConfigError(f"-o {args.out}: exists and is not empty; pass --overwrite to replace it")
        if not (args.out / "include" / "vidgen_rt.h").is_file():
            raise ConfigError(f"-o {args.out}: refusing to overwrite a directory that is not an SDK "
                              "(it has no include/vidgen_rt.h)")
    out = write_sdk(args.out)
    print(f"wrote the vidgen_rt C SDK to {out}")
    print(f"  pkg-config: PKG_CONFIG_PATH={out / 'lib' / 'pkgconfig'} pkg-config --cflags --libs vidgen_rt")
    print(f"  CMake:      find_package(vidgen_rt) with -DCMAKE_PREFIX_PATH={out}")
    return 0


def write_sdk(out: Path) -> Path:
    """The SDK tree (see the module docstring) in `out`, written in a staging directory beside it and
    renamed into place."""
    from vidgen_rt.atomic import atomic_directory

    library, sdk, ort = _sources()
    with atomic_directory(Path(out)) as staging:
        shutil.copytree(sdk, staging, dirs_exist_ok=True)
        lib = staging / "lib"
        for source, link in ((library, "libvidgen_rt.so"), (ort, "libonnxruntime.so")):
            shutil.copy2(source, lib / source.name)
            os.symlink(source.name, lib / link)
    return Path(out)


def _sources() -> tuple[Path, Path, Path]:
    """libvidgen_rt.so.N, the package's sdk/ folder (headers, pkg-config and CMake files configured
    for this layout at build time) and the onnxruntime package's library; ConfigError naming what
    is missing."""
    from vidgen_rt.errors import ConfigError
    from vidgen_rt.runtime.native import library_path, ort_search_dir

    library = library_path()
    sdk = library.parent / "sdk"
    if not library.is_file() or not (sdk / "include" / "vidgen_rt.h").is_file():
        raise ConfigError(f"this vidgen_rt install has no {library.name} or no SDK files in {sdk}; reinstall "
                          "the package (pip install vidgen_rt, or bash scripts/setup.sh in a checkout)")
    found = sorted(Path(ort_search_dir()).glob("libonnxruntime.so.*")) if ort_search_dir() else []
    if not found:
        raise ConfigError("no libonnxruntime.so.* to put in the SDK: install the onnxruntime package "
                          "(pip install onnxruntime)")
    return library, sdk, found[-1].resolve()
