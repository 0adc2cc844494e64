"""Without real Caffe the suite says exactly which tests it skipped (`make test SKIP_CAFFE=1`)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_without_caffe_every_skipped_test_is_named(tmp_path):
    fake = tmp_path / "caffe"
    fake.mkdir()
    (fake / "__init__.py").write_text('raise ImportError("hidden for this test")\n')
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    env.pop("REQUIRE_CAFFE", None)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "parity_tests/test_caffenet.py", "tests/caffe_extract/test_caffenet_port.py"],
                            capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-2000:]
    out = result.stdout
    header = [line for line in out.splitlines() if "tests were SKIPPED" in line]
    assert len(header) == 1, out[-3000:]
    count = int(header[0].split("these ")[1].split()[0])
    listed = [line.strip() for line in out.split(header[0])[1].splitlines()
              if line.startswith("  parity_tests/")]
    assert count == len(listed) >= 14                  # every test that needs real Caffe
    assert "parity_tests/test_caffenet.py::test_preprocess_equals_caffe_io" in listed
    assert "parity_tests/test_caffenet.py::test_port_equals_pycaffe_on_each_device[cpu]" in listed
    summary = out.splitlines()[-1]
    assert summary.startswith("8 passed, ")             # the port's own tests ran, and
    # the port against the kept pycaffe blobs, its random CaffeNet written without Caffe
    assert not any("test_port_on_each_device_equals_the_kept_pycaffe_blobs[cpu]" in line
                   for line in listed)
    assert not any("test_caffenet_port" in line for line in listed)
