"""Export a trained world to a runtime bundle (NAME.vgrt/), verify a bundle, build TensorRT engines.

SOURCE is a shipped world name (maze), a run directory or a checkpoint directory; with -o the bundle
is written atomically: manifest.json, encode/step/decode ONNX graphs per batch size, context tensors
(of the world, of the training store's held-out episodes, or of --context STORE or CLIP).
SOURCE may also be an existing bundle, to --verify it or to add --tensorrt engines to it.

--pack also writes the packed form, NAME.vgrtpack beside NAME.vgrt: one file holding the whole
bundle, for engines that ship assets inside archives and open them from memory (docs/export.md).

--verify prints parity figures against the PyTorch model (teacher-forced latent error over 256
steps, free-running rollout PSNR, and ORT against the ONNX reference evaluator); it exits 1 when an
fp32 bundle misses a threshold. --tensorrt builds engines where TensorRT and a CUDA GPU exist and
fails with a clear message elsewhere.

examples:
  vidgen export maze -o maze.vgrt --verify
  vidgen export maze -o maze-int8.vgrt --precision int8 --verify
  vidgen export runs/maze-small -o maze.vgrt --batch 1,4 --overwrite
  vidgen export maze.vgrt --verify
  vidgen export maze -o maze-fp16.vgrt --precision fp16 --tensorrt
  vidgen export runs/mine -o mine.vgrt --context holiday.mp4
  vidgen export maze -o maze.vgrt --pack
  vidgen export maze.vgrt --pack
"""

from pathlib import Path

HELP = "export a world to a runtime bundle (ONNX + manifest), verify it, build TensorRT engines"


def configure(parser) -> None:
    parser.add_argument("source", metavar="SOURCE", help="shipped world, run or checkpoint directory, or a bundle")
    parser.add_argument("-o", "--out", type=Path, help="bundle directory to write (NAME.vgrt)")
    parser.add_argument("--batch", default="1", help="batch sizes to export, comma-separated (default: 1)")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "int8"],
                        help="graph precision: fp32 (default), fp16, or int8 (dynamically quantized MatMuls, CPU)")
    parser.add_argument("--context", type=Path, metavar="STORE|CLIP",
                        help="episode store (its held-out episodes first) or clip (video file, frame folder, "
                             "STORE:EPISODE) to take the context frames from (default: the world, or the "
                             "training store's held-out episodes)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing bundle (and pack)")
    parser.add_argument("--pack", action="store_true",
                        help="also write the packed bundle NAME.vgrtpack (one file, opened from memory)")
    parser.add_argument("--verify", action="store_true", help="print parity figures against PyTorch")
    parser.add_argument("--against", metavar="CKPT", help="checkpoint to verify against (default: the bundle's source)")
    parser.add_argument("--steps", type=int, default=256, help="steps compared by --verify (default: 256)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the --verify figures as JSON")
    parser.add_argument("--tensorrt", action="store_true", help="build TensorRT engines into the bundle")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads for --verify")


def run(args) -> int:
    from vidgen_rt.errors import ConfigError
    from vidgen_rt.export import export_bundle, load_bundle
    from vidgen_rt.export.writer import parse_batches

    _check_outputs(args)
    source_is_bundle = (Path(args.source) / "manifest.json").is_file()
    if source_is_bundle:
        if args.out:
            raise ConfigError(f"{args.source} is already a bundle; -o is for exporting a checkpoint")
        bundle_path = Path(args.source)
    else:
        if not args.out:
            raise ConfigError("-o NAME.vgrt is required to export (or give a bundle to --verify)")
        bundle_path = export_bundle(args.source, args.out, batches=parse_batches(args.batch),
                                    precision=args.precision, context_store=args.context, overwrite=args.overwrite)
        bundle = load_bundle(bundle_path)
        print(f"wrote {bundle_path} ({bundle.manifest['precision']}, batch sizes {bundle.batches})")
    if args.pack:
        from vidgen_rt.export.writer import pack_path, write_pack

        packed = write_pack(bundle_path, pack_path(bundle_path))
        print(f"wrote {packed} ({packed.stat().st_size} bytes, packed from {bundle_path})")
    status = 0
    if args.verify:
        status = _verify(bundle_path, args)
    if args.tensorrt:
        from vidgen_rt.export.tensorrt import build_engines

        engines = build_engines(bundle_path)
        print(f"TensorRT engines in {bundle_path}: {', '.join(sorted(engines))}")
    if not (args.verify or args.tensorrt or args.out or args.pack):
        raise ConfigError("nothing to do: give -o to export, --verify, --tensorrt or --pack")
    return status


def _check_outputs(args) -> None:
    """Before any export work: -o must be creatable, and --overwrite replaces only a bundle (an
    existing folder of anything else would be deleted with it)."""
    from vidgen_rt.errors import ConfigError
    from vidgen_rt.preflight import output_dir, output_file

    if args.out is not None:
        output_dir(args.out, "-o")
        if args.overwrite and args.out.is_dir() and any(args.out.iterdir()) \
                and not (args.out / "manifest.json").is_file():
            raise ConfigError(f"-o {args.out}: refusing to overwrite a directory that is not a bundle "
                              "(it has no manifest.json)")
    if args.json is not None:
        output_file(args.json, "--json")
    if args.pack:
        from vidgen_rt.export.writer import pack_path

        target = pack_path(args.out or args.source)
        output_file(target, "--pack")
        if target.exists() and not args.overwrite:
            raise ConfigError(f"--pack: {target} exists; pass --overwrite to replace it")


def _verify(bundle_path: Path, args) -> int:
    from vidgen_rt.atomic import write_json_atomic
    from vidgen_rt.errors import ConfigError
    from vidgen_rt.export import load_bundle
    from vidgen_rt.export.parity import format_report, verify_bundle

    if not 1 <= args.steps <= 100_000:
        raise ConfigError(f"--steps must be between 1 and 100000, got {args.steps}")
    report = verify_bundle(load_bundle(bundle_path), checkpoint=args.against, steps=args.steps,
                           intra_op_threads=args.threads)
    print(format_report(report))
    if args.json:
        write_json_atomic(args.json, report)
    return 0 if report.get("passed", True) else 1
