"""Shared fixtures: real pycaffe, a seeded random-weight CaffeNet written by it, a file host."""
import http.server
import os
import threading

import pytest

from caffe_extract.pycaffe import CaffeUnavailable, import_caffe  # first: pins the CPU kernels

import torch  # noqa: E402  (after caffe_extract: see common/reproducible.py)

NO_CUDA = "NO CUDA DEVICE: the CUDA path is built but not tested on this machine"
DEVICES = [pytest.param("cpu", id="cpu"),
           pytest.param("cuda", id="cuda", marks=pytest.mark.skipif(
               not torch.cuda.is_available(), reason=NO_CUDA))]


@pytest.fixture(params=DEVICES)
def device(request):
    """Every device present: "cpu", and "cuda" where torch sees a GPU (skipped elsewhere)."""
    return request.param


CAFFE_SKIP = "REAL CAFFE UNAVAILABLE"


@pytest.fixture
def file_size_limit():
    """limit(n) -> a subprocess ``preexec_fn`` that caps file sizes at n bytes, as a full disk
    would: writes past it fail with EFBIG (SIGXFSZ ignored, so the process sees the error)."""
    def limit(limit_bytes):
        def apply():
            import resource
            import signal
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
        return apply
    return limit


@pytest.fixture(scope="session")
def caffe():
    """Real pycaffe. `make test`/`make parity` build it first and set REQUIRE_CAFFE=1, so a
    missing pycaffe fails there; elsewhere the Caffe parity tests skip with a loud reason."""
    try:
        return import_caffe()
    except CaffeUnavailable as error:
        if os.environ.get("REQUIRE_CAFFE") == "1":
            pytest.fail(str(error))
        pytest.skip(f"{CAFFE_SKIP}: {error}")


@pytest.fixture(scope="session")
def random_caffemodel(caffe):
    """A CaffeNet .caffemodel with seeded random weights, saved by real Caffe (cached)."""
    from caffe_extract.random_model import cached_random_caffemodel
    return cached_random_caffemodel(seed=0)


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files, honouring 'Range: bytes=N-' as a real download host does."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            self.send_error(404)
            return
        with open(path, "rb") as f:
            body = f.read()
        start = 0
        if self.headers.get("Range", "").startswith("bytes="):
            start = int(self.headers["Range"][6:].rstrip("-"))
            self.send_response(206)
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        self.wfile.write(body[start:])


@pytest.fixture
def http_host(tmp_path):
    """(folder, base URL): a file server on 127.0.0.1 serving the folder."""
    root = tmp_path / "www"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a, **k: RangeHandler(*a, directory=str(root), **k))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def pytest_terminal_summary(terminalreporter):
    """Without real Caffe (`make test SKIP_CAFFE=1`), say exactly which tests did not run: the
    pycaffe parity tests and every test that needs a CaffeNet written by real Caffe."""
    write = terminalreporter.write_line
    cuda_skipped = [r for r in terminalreporter.stats.get("skipped", [])
                    if NO_CUDA in str(getattr(r, "longrepr", ""))]
    ran_cuda = any("[cuda" in r.nodeid or "-cuda" in r.nodeid
                   for r in terminalreporter.stats.get("passed", []))
    if cuda_skipped or ran_cuda:
        write("Devices tested: cpu" + (f", cuda ({torch.cuda.get_device_name(0)})" if ran_cuda
                                        else f"; cuda NOT tested ({len(cuda_skipped)} CUDA "
                                             "cases skipped: no CUDA device here)"), bold=True)
    skipped = [r for r in terminalreporter.stats.get("skipped", [])
               if CAFFE_SKIP in str(getattr(r, "longrepr", ""))]
    if not skipped:
        return
    write(f"{CAFFE_SKIP}: these {len(skipped)} tests were SKIPPED, so what they check is NOT "
          "checked on this machine:", red=True, bold=True)
    for report in skipped:
        write(f"  {report.nodeid}")
