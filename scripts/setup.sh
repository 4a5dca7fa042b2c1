#!/usr/bin/env bash
# Prepare a checkout for development, tests and the demo: system packages (as root), the .venv with
# torch and an editable install of vidgen_rt (native module included), and the ONNX Runtime headers
# the native runtime builds against. OpenVINO's C API headers (the OpenVINO backend) come with the
# pinned `openvino` wheel, a build requirement in pyproject.toml, installed before the build.
# Idempotent: a second run checks and returns in seconds; the project is reinstalled only when its
# build inputs (pyproject.toml, CMakeLists.txt, native/, the version) change or the install is
# missing or broken.
# Environment: PYTHON (interpreter for a new .venv, default python3), ONNXRUNTIME_ROOT (an ONNX
# Runtime tree with include/onnxruntime_c_api.h, used instead of downloading headers).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# mono-mcs, mono-runtime: tests/test_csharp.py compiles and runs the C# binding (bindings/csharp/).
# pkgconf: tests/test_sdk.py builds examples/sdk_pkgconfig with pkg-config (binutils' readelf comes with g++).
SYSTEM_PACKAGES=(xvfb xauth libgl1-mesa-dri libglx-mesa0 libegl1 libegl-mesa0 libosmesa6 cmake g++ make
                 mono-mcs mono-runtime pkgconf)
TORCH_VERSION=2.13.0
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
STAMP="$VENV/.vidgen_rt-install-stamp"
ORT_DIR="$ROOT/.deps/onnxruntime"
ORT_DEB_DIR="$ROOT/.deps/onnxruntime-dev"

log() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

TMP_DIRS=()
cleanup() { if ((${#TMP_DIRS[@]})); then rm -rf "${TMP_DIRS[@]}"; fi; }
trap cleanup EXIT

install_system_packages() {
    if ! command -v dpkg-query >/dev/null; then
        log "warning: not a Debian-based system; make sure these are installed: ${SYSTEM_PACKAGES[*]}"
        return
    fi
    local missing=() pkg
    for pkg in "${SYSTEM_PACKAGES[@]}"; do
        [[ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" == installed ]] || missing+=("$pkg")
    done
    if ((${#missing[@]} == 0)); then
        log "system packages present"
        return
    fi
    if ((EUID != 0)); then
        log "warning: missing system packages (run this as root to install them): ${missing[*]}"
        return
    fi
    log "installing system packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

create_venv() {
    if [[ -x "$PY" ]] && "$PY" -c 'import pip' 2>/dev/null; then
        return
    fi
    local python="${PYTHON:-python3}"
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
        die "$python is Python $("$python" -c 'import platform; print(platform.python_version())'); vidgen_rt needs >= 3.10 (set PYTHON=...)"
    log "creating .venv with $python"
    rm -rf "$VENV"
    "$python" -m venv "$VENV"
}

installed_version() {
    "$PY" -c 'import importlib.metadata as m, sys
try:
    print(m.version(sys.argv[1]).split("+")[0])
except m.PackageNotFoundError:
    pass' "$1"
}

install_torch() {
    if [[ "$(installed_version torch)" == "$TORCH_VERSION" ]]; then
        log "torch $TORCH_VERSION present"
        return
    fi
    log "installing torch==$TORCH_VERSION"
    "$PY" -m pip install -q --progress-bar off "torch==$TORCH_VERSION"
}

# Headers only: the runtime dlopen()s libonnxruntime.so from the onnxruntime wheel at run time.
# Order: ONNXRUNTIME_ROOT, the system's, then Debian trixie's libonnxruntime-dev unpacked into
# .deps/ (the system's apt configuration is left untouched).
ensure_ort_headers() {
    if [[ -n "${ONNXRUNTIME_ROOT:-}" ]]; then
        local inc
        for inc in "$ONNXRUNTIME_ROOT/include" "$ONNXRUNTIME_ROOT/include/onnxruntime"; do
            if [[ -f "$inc/onnxruntime_c_api.h" ]]; then
                log "ONNX Runtime headers: $inc (ONNXRUNTIME_ROOT)"
                return
            fi
        done
        die "ONNXRUNTIME_ROOT=$ONNXRUNTIME_ROOT has no include/onnxruntime_c_api.h nor include/onnxruntime/onnxruntime_c_api.h"
    fi
    if [[ -f /usr/include/onnxruntime/onnxruntime_c_api.h ]]; then
        log "ONNX Runtime headers: /usr/include/onnxruntime (system)"
        return
    fi
    if [[ -f "$ORT_DIR/include/onnxruntime_c_api.h" ]]; then
        log "ONNX Runtime headers: .deps/onnxruntime/include ($(cat "$ORT_DIR/VERSION" 2>/dev/null || echo "version unknown"))"
        return
    fi
    fetch_ort_headers
}

fetch_ort_headers() {
    command -v apt-get >/dev/null ||
        die "no ONNX Runtime headers and no apt-get to fetch Debian's libonnxruntime-dev; set ONNXRUNTIME_ROOT to an ONNX Runtime release (with include/onnxruntime_c_api.h)"
    log "fetching ONNX Runtime headers (Debian trixie libonnxruntime-dev) into .deps/"
    # Work inside .deps/ so the final moves are renames: an interrupted run leaves nothing half-made.
    mkdir -p "$ROOT/.deps"
    local tmp
    tmp="$(mktemp -d "$ROOT/.deps/.fetch.XXXXXX")"
    TMP_DIRS+=("$tmp")
    mkdir -p "$tmp/sources" "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/deb"
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
        local codename
        codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"
        sed "s/\b$codename\b/trixie/g" /etc/apt/sources.list.d/debian.sources >"$tmp/sources/debian.sources"
    else
        printf '%s\n' "Types: deb" "URIs: http://deb.debian.org/debian" "Suites: trixie" \
            "Components: main" "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" \
            >"$tmp/sources/debian.sources"
    fi
    local apt_opts=(
        -qq
        -o Dir::Etc::SourceList=/dev/null
        -o Dir::Etc::SourceParts="$tmp/sources"
        -o Dir::State::Lists="$tmp/lists"
        -o Dir::Cache="$tmp/cache"
        -o Debug::NoLocking=1
        -o Acquire::Languages=none
        -o APT::Sandbox::User="$(id -un)"
    )
    apt-get "${apt_opts[@]}" update ||
        die "apt-get update against Debian trixie failed (sources: $(tr '\n' ' ' <"$tmp/sources/debian.sources")); set ONNXRUNTIME_ROOT to an ONNX Runtime release instead"
    (cd "$tmp/deb" && apt-get "${apt_opts[@]}" download libonnxruntime-dev) ||
        die "apt-get download libonnxruntime-dev (Debian trixie) failed; set ONNXRUNTIME_ROOT to an ONNX Runtime release instead"
    local deb
    deb="$(ls "$tmp"/deb/libonnxruntime-dev_*.deb)"
    rm -rf "$ORT_DEB_DIR" "$ORT_DIR"
    dpkg-deb -x "$deb" "$tmp/extract"
    [[ -f "$tmp/extract/usr/include/onnxruntime/onnxruntime_c_api.h" ]] ||
        die "$(basename "$deb") has no usr/include/onnxruntime/onnxruntime_c_api.h"
    # Same layout as an ONNX Runtime release archive, so ONNXRUNTIME_ROOT=.deps/onnxruntime works too.
    mkdir -p "$tmp/ort"
    cp -r "$tmp/extract/usr/include/onnxruntime" "$tmp/ort/include"
    dpkg-deb -f "$deb" Version >"$tmp/ort/VERSION"
    mv "$tmp/extract" "$ORT_DEB_DIR"
    mv "$tmp/ort" "$ORT_DIR"
    log "ONNX Runtime headers: .deps/onnxruntime/include ($(cat "$ORT_DIR/VERSION"))"
}

# Everything that changes what `pip install -e .` produces.
build_inputs_hash() {
    {
        sha256sum pyproject.toml CMakeLists.txt scripts/build_backend.py vidgen_rt/__init__.py
        find native -type f -print0 | sort -z | xargs -0 -r sha256sum
    } | sha256sum | cut -d' ' -f1
}

install_ok() {
    (cd / && "$PY" -c 'import sys, vidgen_rt, vidgen_rt._native
sys.exit(vidgen_rt.__file__ != sys.argv[1])' "$ROOT/vidgen_rt/__init__.py") 2>/dev/null
}

# The build runs without pip's build isolation (its requirements live in the .venv), so the
# persistent CMake tree in build/ stays valid between installs and rebuilds are incremental.
install_project() {
    local hash
    hash="$(build_inputs_hash)"
    if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$hash" ]] && install_ok; then
        log "vidgen_rt editable install up to date"
        return
    fi
    log "installing build requirements"
    local requires=()
    mapfile -t requires < <("$PY" - <<'EOF'
import ast, re
text = open("pyproject.toml", encoding="utf-8").read()
try:
    import tomllib
    requires = tomllib.loads(text)["build-system"]["requires"]
except ModuleNotFoundError:  # Python 3.10
    requires = ast.literal_eval(re.search(r"^requires = (\[.*\])$", text, re.M).group(1))
print("\n".join(requires))
EOF
)
    ((${#requires[@]})) || die "pyproject.toml: no [build-system] requires found"
    "$PY" -m pip install -q --progress-bar off "${requires[@]}"
    log "installing vidgen_rt (editable, extras test+viewer+envs; builds the native module)"
    rm -f "$STAMP"
    "$PY" -m pip install -q --progress-bar off --no-build-isolation -e ".[test,viewer,envs]"
    install_ok || die "vidgen_rt installed but 'import vidgen_rt._native' fails from outside the repo"
    echo "$hash" >"$STAMP"
    log "vidgen_rt $("$PY" -c 'import vidgen_rt._native as n; print(n.version())') installed (native backends: $("$PY" -c 'import vidgen_rt._native as n; print(", ".join(n.build_info()["backends"]))'))"
}

install_system_packages
create_venv
install_torch
ensure_ort_headers
install_project
log "done (python: .venv/bin/python)"
