"""Shared fixtures: real pycaffe, and a seeded random-weight CaffeNet written by it."""
import os

import pytest

from caffe_extract.pycaffe import CaffeUnavailable, import_caffe


@pytest.fixture(scope="session")
def caffe():
    """Real pycaffe. `make test`/`make parity` build it first and set REQUIRE_CAFFE=1, so a
    missing pycaffe fails there; elsewhere the Caffe parity tests skip with a loud reason."""
    try:
        return import_caffe()
    except CaffeUnavailable as error:
        if os.environ.get("REQUIRE_CAFFE") == "1":
            pytest.fail(str(error))
        pytest.skip(f"REAL CAFFE UNAVAILABLE, pycaffe parity NOT checked: {error}")


@pytest.fixture(scope="session")
def random_caffemodel(caffe):
    """A CaffeNet .caffemodel with seeded random weights, saved by real Caffe (cached)."""
    from caffe_extract.random_model import cached_random_caffemodel
    return cached_random_caffemodel(seed=0)
