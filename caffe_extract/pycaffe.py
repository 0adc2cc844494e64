"""Import real BVLC Caffe (pycaffe) with a clear message when it is not built."""
import os


class CaffeUnavailable(ImportError):
    """pycaffe cannot be imported."""


def import_caffe():
    """The ``caffe`` module, quiet (GLOG_minloglevel=2), or CaffeUnavailable saying what to do."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    try:
        import caffe
    except ImportError as error:
        raise CaffeUnavailable(
            f"real Caffe (pycaffe) is not importable ({error}). Build it with `make caffe` "
            "(Debian/Ubuntu, about 5 minutes, cached), or use the conda route "
            "(environment.yml, conda-forge's CPU-only caffe); see docs/setup.md, 'Real Caffe'.") from None
    return caffe


def source_version(caffe):
    """The Caffe source version pycaffe was built from: Debian's package version when built by
    `make caffe` (read from the source's debian/changelog), else caffe.__version__."""
    changelog = os.path.join(os.path.dirname(caffe.__file__), os.pardir, os.pardir,
                             "debian", "changelog")
    try:
        with open(changelog) as f:
            first = f.readline()
        return "BVLC Caffe, Debian source " + first.split("(")[1].split(")")[0]
    except (OSError, IndexError):
        return "BVLC Caffe " + str(getattr(caffe, "__version__", "unknown"))
