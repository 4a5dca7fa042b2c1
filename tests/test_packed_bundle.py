"""Packed bundles (NAME.vgrtpack, docs/export.md): `vidgen export --pack` writes one, and opened from
memory — `Runtime(path)`, `Runtime.from_bytes`, `open_stepper(path)` and the C ABI's
vgrt_model_open_memory — it plays exactly the frames of its bundle directory, for every exported
batch size. A damaged pack (truncated, a flipped byte, a broken header or file table, a file too
many or too few) is refused with a one-line BundleError naming the file, and a broken manifest
inside a pack gets the directory validator's own message: one validator, two sources."""

import ctypes
import hashlib
import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

import vidgen_rt
from conftest import vidgen
from vidgen_rt.errors import BundleError
from vidgen_rt.export import export_bundle
from vidgen_rt.runtime.native import Runtime, library_path, ort_search_dir

ROOT = Path(__file__).resolve().parents[1]
THREADS = 1  # the same intra-op thread count everywhere: ORT's kernels partition work by it
ACTIONS = [(i // 3) % 5 for i in range(24)]


@pytest.fixture(scope="module")
def bundle(tiny_run, tmp_path_factory):
    return export_bundle(tiny_run, tmp_path_factory.mktemp("pack") / "tiny.vgrt", batches=[1, 2], quiet=True)


@pytest.fixture(scope="module")
def pack(bundle):
    result = vidgen("export", bundle, "--pack")
    path = bundle.with_name("tiny.vgrtpack")
    assert f"wrote {path}" in result.stdout
    return path


def frames(runtime, batch: int) -> np.ndarray:
    stream = runtime.open_stream(batch)
    out = [stream.step([a] * batch).copy() for a in ACTIONS]
    stream.close()
    return np.stack(out)


def test_a_pack_plays_the_frames_of_its_directory(bundle, pack):
    directory = Runtime(bundle, intra_op_threads=THREADS)
    reference = {b: frames(directory, b) for b in (1, 2)}
    from_file = Runtime(pack, intra_op_threads=THREADS)
    data = bytearray(pack.read_bytes())
    from_bytes = Runtime.from_bytes(data, intra_op_threads=THREADS)
    data[:] = b"\0" * len(data)  # the runtime keeps its own copy: batch 2's graphs load after this
    for batch in (1, 2):
        assert np.array_equal(frames(from_file, batch), reference[batch])
        assert np.array_equal(frames(from_bytes, batch), reference[batch])
    assert from_file.info == directory.info and from_bytes.path is None
    stepper = vidgen_rt.open_stepper(pack, intra_op_threads=THREADS)
    assert np.array_equal(np.stack([stepper.step(a) for a in ACTIONS]), reference[1])
    stepper = vidgen_rt.open_stepper(from_bytes, intra_op_threads=THREADS)
    assert stepper.info.action_names == tuple(from_bytes.manifest["actions"]["names"])
    for name, array in from_file.bundle.context().items():  # the loaded Runtime's view of its pack
        assert np.array_equal(array, directory.bundle.context()[name])


def test_load_bundle_reads_a_pack_as_its_directory(bundle, pack):
    from vidgen_rt.export.bundle import load_bundle

    directory, packed = load_bundle(bundle), load_bundle(pack)
    assert packed.manifest == directory.manifest
    for name, array in directory.context().items():
        assert np.array_equal(packed.context()[name], array)
    with pytest.raises(BundleError, match="graphs are inside the pack"):
        vidgen_rt.open_stepper(pack, "ort-python")


def test_the_c_abi_opens_a_pack_from_memory(bundle, pack, monkeypatch):
    # An FFI host has no Python package to search: it names the library (docs/runtime.md).
    monkeypatch.setenv("VGRT_ORT_LIBRARY", str(sorted(Path(ort_search_dir()).glob("libonnxruntime.so*"))[-1]))
    lib = ctypes.CDLL(str(library_path()))
    lib.vgrt_last_error.restype = ctypes.c_char_p
    lib.vgrt_model_open_memory.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
                                           ctypes.POINTER(ctypes.c_void_p)]
    lib.vgrt_model_get_manifest.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p)]
    lib.vgrt_bundle_check_memory.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int32,
                                             ctypes.POINTER(ctypes.c_char_p)]
    lib.vgrt_model_destroy.argtypes = [ctypes.c_void_p]
    data = pack.read_bytes()
    buffer = ctypes.create_string_buffer(data, len(data))
    text = ctypes.c_char_p()
    assert lib.vgrt_bundle_check_memory(buffer, len(data), 1, ctypes.byref(text)) == 0, lib.vgrt_last_error()
    assert json.loads(text.value) == json.loads((bundle / "manifest.json").read_text())
    model = ctypes.c_void_p()
    assert lib.vgrt_model_open_memory(buffer, len(data), None, ctypes.byref(model)) == 0, lib.vgrt_last_error()
    del buffer
    assert lib.vgrt_model_get_manifest(model, ctypes.byref(text)) == 0
    assert json.loads(text.value)["name"] == "tiny"
    assert lib.vgrt_model_destroy(model) == 0
    short = ctypes.create_string_buffer(data[:1000], 1000)
    assert lib.vgrt_model_open_memory(short, 1000, None, ctypes.byref(model)) == -3  # VGRT_ERROR_BUNDLE
    assert b"past the end of the 1000-byte pack" in lib.vgrt_last_error()


def test_the_pack_driver_plays_the_pack_and_refuses_every_damaged_container(bundle, pack, tmp_path):
    """native/tests/pack_driver.c, which `make test-sanitize` also runs under AddressSanitizer."""
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "no C compiler (cc or gcc) on PATH"
    lib = library_path()
    driver = tmp_path / "pack_driver"
    built = subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", f"-I{ROOT / 'native' / 'include'}",
                            str(ROOT / "native" / "tests" / "pack_driver.c"), "-o", str(driver), str(lib),
                            f"-Wl,-rpath,{lib.parent}"], capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    env = dict(os.environ, VGRT_ORT_LIBRARY=str(sorted(Path(ort_search_dir()).glob("libonnxruntime.so*"))[-1]))
    ran = subprocess.run([driver, bundle, pack], capture_output=True, text=True, env=env, timeout=600)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "pack_driver: all checks passed" in ran.stdout and "damaged packs refused" in ran.stdout


# ---- damaged packs -------------------------------------------------------------------------------

def unpack(path) -> list[tuple[str, bytes]]:
    data = path.read_bytes()
    (size,) = struct.unpack_from("<Q", data, 16)
    index = json.loads(data[64:64 + size])
    return [(e["name"], data[e["offset"]:e["offset"] + e["size"]]) for e in index["files"]]


def make_pack(files, version=1, align=64, index=None) -> bytes:
    """A pack of (name, bytes) laid out as docs/export.md says, or with one thing changed."""
    entries, offset = [], 64 + 4096
    for name, data in files:
        entries.append({"name": name, "offset": offset, "size": len(data)})
        offset = -(-(offset + len(data)) // align) * align
    text = json.dumps(index if index is not None else {"files": entries}).encode()
    out = bytearray(struct.pack("<8sIIQ", b"VGRTPACK", version, 0, len(text)).ljust(64, b"\0") + text)
    for entry, (_, data) in zip(entries, files):
        out += b"\0" * (entry["offset"] - len(out)) + data
    return bytes(out)


def edit(files, name, change):
    return [(n, change(d) if n == name else d) for n, d in files]


def manifest_edit(change):
    def apply(data):
        manifest = json.loads(data)
        change(manifest)
        return json.dumps(manifest).encode()
    return apply


def flip(data: bytes) -> bytes:
    return data[:len(data) // 2] + bytes([data[len(data) // 2] ^ 0xFF]) + data[len(data) // 2 + 1:]


def duplicate_action(manifest):
    manifest["actions"]["names"][1] = manifest["actions"]["names"][0]


# name -> (how to make the pack from the good pack's bytes and files, a substring of the message)
DAMAGE = {
    "truncated": (lambda raw, f: raw[:len(raw) * 2 // 3], "past the end of the"),
    "header_only": (lambda raw, f: raw[:64], "does not fit in the 64-byte pack"),
    "empty": (lambda raw, f: b"", "not a packed bundle (0 bytes"),
    "a_manifest_not_a_pack": (lambda raw, f: dict(f)["manifest.json"], "not a packed bundle"),
    "newer_format": (lambda raw, f: make_pack(f, version=2), "pack format version 2; this runtime reads version 1"),
    "index_not_json": (lambda raw, f: raw[:64] + b"x" + raw[65:], "index is not valid JSON"),
    "misaligned": (lambda raw, f: make_pack(f, align=4), "expected a multiple of 64"),
    "overlapping": (lambda raw, f: make_pack(f, index={"files": [
        {"name": n, "offset": 4160, "size": len(d)} for n, d in f]}), "overlap"),
    "unlisted_file": (lambda raw, f: make_pack(f + [("extra.bin", b"x")]), "files not named by manifest.json: extra.bin"),
    "missing_file": (lambda raw, f: make_pack([e for e in f if e[0] != "decode.onnx"]),
                     "file \"decode.onnx\" is missing from the pack"),
    "escaping_name": (lambda raw, f: make_pack(f + [("../evil", b"x")]), "expected a relative path"),
    "flipped_graph_byte": (lambda raw, f: make_pack(edit(f, "step.onnx", flip)),
                           "step.onnx: checksum mismatch with"),
    "duplicate_action": (lambda raw, f: make_pack(edit(f, "manifest.json", manifest_edit(duplicate_action))),
                         "duplicate action name"),
}


@pytest.mark.parametrize("name", list(DAMAGE))
def test_a_damaged_pack_is_refused_with_a_clear_error(pack, tmp_path, name):
    from vidgen_rt.export.bundle import load_bundle

    make, expected = DAMAGE[name]
    damaged = tmp_path / "damaged.vgrtpack"
    damaged.write_bytes(make(pack.read_bytes(), unpack(pack)))
    for open_it in (lambda: load_bundle(damaged), lambda: Runtime(damaged, intra_op_threads=THREADS)):
        with pytest.raises(BundleError) as error:
            open_it()
        message = str(error.value)
        assert expected in message and "\n" not in message
        assert str(damaged) in message and "[packed bundle]" not in message


def test_a_manifest_rule_gives_the_directory_validators_message(bundle, pack, tmp_path):
    broken = tmp_path / "broken.vgrt"
    shutil.copytree(bundle, broken)
    manifest = json.loads((broken / "manifest.json").read_text())
    duplicate_action(manifest)
    (broken / "manifest.json").write_text(json.dumps(manifest))
    damaged = tmp_path / "broken.vgrtpack"
    damaged.write_bytes(make_pack(edit(unpack(pack), "manifest.json", lambda d: (broken / "manifest.json").read_bytes())))
    messages = []
    for path in (broken, damaged):
        with pytest.raises(BundleError) as error:
            Runtime(path, intra_op_threads=THREADS)
        messages.append(str(error.value).replace(str(path), "BUNDLE"))
    assert messages[0] == messages[1]


def test_export_pack_refuses_to_replace_a_pack_without_overwrite(bundle, pack):
    before = hashlib.sha256(pack.read_bytes()).hexdigest()
    result = vidgen("export", bundle, "--pack", check=False)
    assert result.returncode == 2 and "exists; pass --overwrite" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    vidgen("export", bundle, "--pack", "--overwrite")
    assert hashlib.sha256(pack.read_bytes()).hexdigest() == before  # the same bytes: the layout is deterministic
