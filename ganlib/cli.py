"""The command line: `python -m ganlib --help`.

Each subcommand lives in its own function ``cmd_<name>(args)`` registered in
``build_parser``; user errors (bad options, missing data) print one line and exit 2.
"""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ganlib",
        description="ganlib: train, sample and measure GANs from the command line.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    info = sub.add_parser("info", help="print versions, the device and the active preset")
    info.set_defaults(func=cmd_info)

    bench = sub.add_parser(
        "bench",
        help="DCGAN training speed: ganlib's trainer against a plain Keras train_step",
        description=(
            "Train the DCGAN of ganlib.models on random batches and print images/s, CPU "
            "seconds per step and peak memory, for ganlib.train.GAN and for a plain Keras "
            "train_step written as in the keras-io DCGAN example (no XLA). Each run is a "
            "fresh process; the trainers alternate so a busy machine slows both alike."
        ),
    )
    bench.add_argument("--shapes", nargs="+", default=["32x32x1", "64x64x3"],
                       help="image shapes to measure (default: 32x32x1 64x64x3)")
    bench.add_argument("--variants", nargs="+", default=["keras-io", "ganlib"],
                       help="trainers; the first is the baseline. Known: keras-io, keras-io+xla, "
                            "keras-io+onednn, ganlib, ganlib+xla, ganlib+onednn")
    bench.add_argument("--batch-size", type=int, default=64, help="images per step (default 64)")
    bench.add_argument("--steps", type=int, default=10, help="timed steps per run (default 10)")
    bench.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    bench.add_argument("--repeats", type=int, default=3, help="runs per trainer and shape (default 3)")
    bench.add_argument("--width", type=int, default=64, help="ngf = ndf of the networks (default 64)")
    bench.add_argument("--json", default=None, help="also write every measurement to this JSON file")
    bench.set_defaults(func=cmd_bench)
    return parser


def cmd_info(args) -> int:
    import ganlib

    ganlib.setup(verbose=True)
    return 0


def cmd_bench(args) -> int:
    from ._bench import run
    from ._checks import check_positive

    for name in ("batch_size", "steps", "warmup", "repeats", "width"):
        check_positive(f"--{name.replace('_', '-')}", getattr(args, name), integer=True)
    run(shapes=tuple(args.shapes), variants=tuple(args.variants), batch_size=args.batch_size,
        steps=args.steps, warmup=args.warmup, repeats=args.repeats, width=args.width,
        json_path=args.json)
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as error:  # user errors: one clear line, no traceback
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
