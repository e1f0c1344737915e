"""DCGAN training speed: ganlib.train.GAN against a plain Keras train_step (keras-io pattern).

The same as ``python -m ganlib bench`` (see ``ganlib/_bench.py`` for what is measured and
how), runnable as a script from the repository::

    .venv/bin/python benchmarks/bench_dcgan.py --variants keras-io ganlib keras-io+onednn ganlib+xla
"""
import sys

from ganlib.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
