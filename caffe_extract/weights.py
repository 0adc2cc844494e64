"""The real BVLC CaffeNet weights: download, verify by SHA1, find.

    python -m caffe_extract.weights            # `make weights`: download to models/ and verify

Where the BVLC model zoo host cannot be reached, put the file at ``DEFAULT_PATH`` (or pass its
path to the tools that need it). ``make weights`` checks a file already there against ``SHA1``;
the tools do not, but every store records its weights' SHA1, and every table made from codes
of other weights says so in a banner (``experiment.analysis.report.banner``).
"""
import os

from common import cli, commands
from .download import DownloadError, fetch, file_digest
from .paths import MODELS

URL = "http://dl.caffe.berkeleyvision.org/bvlc_reference_caffenet.caffemodel"
SHA1 = "4c8d77deb20ea792f84eb5e6d0a11ca0a8660a46"
DEFAULT_PATH = MODELS / "bvlc_reference_caffenet.caffemodel"


class WeightsError(DownloadError):
    """The weights cannot be had or are not the expected file."""


def file_sha1(path):
    return file_digest(path, "sha1")


def download(dest=DEFAULT_PATH, url=URL, sha1=SHA1, timeout=30, progress=True):
    """Download ``url`` to ``dest`` and verify its SHA1; nothing to do if ``dest`` is verified."""
    hint = (f"Download it on a machine that can reach the host, check its SHA1 ({sha1}), and "
            f"put it at {dest}; or pass the path of your copy to the tools that need it.")
    return fetch(url, dest, "sha1", sha1, timeout, progress, hint, WeightsError)


def add_weights_arguments(parser, what=""):
    """--weights PATH | --random-weights SEED on ``parser`` (read back by ``resolve_weights``);
    ``what``: what the weights are for, added to the help."""
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--weights", type=cli.existing_file, help="CaffeNet .caffemodel (default: "
                         f"models/bvlc_reference_caffenet.caffemodel, see `make weights`){what}")
    weights.add_argument("--random-weights", type=cli.seed, metavar="SEED",
                         help="a seeded random-weight CaffeNet written by real Caffe (demo and "
                              f"tests only: the codes are not the paper's){what}")


def resolve_weights(args):
    """(path, note) of the CaffeNet weights to use; a clear error when there are none."""
    if args.random_weights is not None:
        from .random_model import cached_random_caffemodel
        return cached_random_caffemodel(args.random_weights), \
            f"RANDOM weights (seed {args.random_weights}): codes are NOT CaffeNet's, numbers are not the paper's"
    path = args.weights or str(DEFAULT_PATH)
    if not os.path.isfile(path):
        raise WeightsError(f"no CaffeNet weights at {path}: run `make weights`, or put "
                           "bvlc_reference_caffenet.caffemodel there, or pass --weights PATH")
    return path, ""


def main(argv=None):
    parser = commands.parser("python -m caffe_extract.weights",
                             "Download BVLC CaffeNet's weights and verify their SHA1.")
    parser.add_argument("--dest", default=str(DEFAULT_PATH), type=cli.writable_file, help="where to put the file (%(default)s)")
    parser.add_argument("--url", default=URL, help="where to get it (%(default)s)")
    args = parser.parse_args(argv)
    return commands.guarded(lambda: download_and_say(args.dest, args.url), (WeightsError, OSError))


def download_and_say(dest, url):
    path = download(dest, url)
    print(f"{path}: SHA1 verified ({SHA1})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
