#!/usr/bin/env bash
# Build BVLC Caffe's pycaffe (CPU only) for the project's venv, from Debian bullseye's pinned
# source package (BVLC master of 2018-08-21 plus Debian's patches), with two patches for
# today's libraries. Cached: a second run with the same inputs does nothing.
#
#   scripts/build_caffe.sh VENV_PYTHON CACHE_DIR
#
# Steps: apt packages -> apt-get source (private sources list and keys, the system's untouched)
# -> patch -> cmake + make pycaffe -> a .pth file that puts pycaffe on the venv's path.
set -euo pipefail

PY=${1:?usage: build_caffe.sh VENV_PYTHON CACHE_DIR}
CACHE=$(mkdir -p "${2:?usage: build_caffe.sh VENV_PYTHON CACHE_DIR}" && cd "$2" && pwd)
VERSION=1.0.0+git20180821.99bd997-8
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg   # Debian's keys, from the package
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}      # where bullseye is served
SUITE="deb-src [signed-by=$KEYRING] $MIRROR bullseye main"
APT_PACKAGES="debian-archive-keyring cmake g++ make dpkg-dev protobuf-compiler libprotobuf-dev libgoogle-glog-dev
  libgflags-dev libhdf5-dev libopenblas-dev libboost-python-dev libboost-thread-dev
  libboost-system-dev libboost-filesystem-dev libboost-regex-dev libboost-date-time-dev"
SRC="$CACHE/caffe-$VERSION"   # unpacked, patched source
BUILD="$CACHE/build-$("$PY" -c 'import sys; print("py%d%d" % sys.version_info[:2])')"
say() { printf '==> [caffe] %s\n' "$*"; }
die() { printf 'error: [caffe] %s\n' "$*" >&2; exit 1; }

# 1. apt packages ---------------------------------------------------------------------------
"$(dirname "$(readlink -f "$0")")/apt_install.sh" $APT_PACKAGES || exit 1

# 2. the pinned source package -------------------------------------------------------------
if [ ! -f "$SRC/.patched" ]; then
  APT="$CACHE/apt"
  mkdir -p "$APT/lists/partial" "$APT/sources.list.d" "$APT/trusted.gpg.d"
  echo "$SUITE" > "$APT/sources.list"
  # the system's trusted keys left out too: Debian's are trusted through KEYRING alone, so that
  # the fetch is the same on Debian and on Ubuntu (whose keys are not Debian's)
  opts=(-o "Dir::Etc::SourceList=$APT/sources.list" -o "Dir::Etc::SourceParts=$APT/sources.list.d"
        -o "Dir::State::Lists=$APT/lists" -o "Dir::Etc::Trusted=/dev/null"
        -o "Dir::Etc::TrustedParts=$APT/trusted.gpg.d")
  say "fetching Debian source package caffe=$VERSION (bullseye)"
  apt-get "${opts[@]}" update -qq 2>&1 | grep -v '^W:' || true
  rm -rf "$CACHE/src-tmp" && mkdir -p "$CACHE/src-tmp"
  (cd "$CACHE/src-tmp" && apt-get "${opts[@]}" source -qq "caffe=$VERSION" >/dev/null) || die \
"could not fetch the source package caffe=$VERSION from Debian bullseye ($MIRROR; trusted keys:
  $KEYRING, debian-archive-keyring $(dpkg-query -W -f='${Version}' debian-archive-keyring), which
  must hold bullseye's: 2021.1 or later, as on Debian 11+ and Ubuntu 22.04+).
  If bullseye moved to Debian's archive, rerun with DEBIAN_MIRROR=http://archive.debian.org/debian. Without network access, use the conda route instead:
  conda env create -f environment.yml (conda-forge's CPU-only caffe, Python 3.8); see docs/setup.md, section The conda route."
  rm -rf "$SRC" && mv "$CACHE"/src-tmp/caffe-*/ "$SRC" && rm -rf "$CACHE/src-tmp"
  say "patching for today's protobuf and scikit-image"
  # newer protobuf: SetTotalBytesLimit takes one argument
  sed -i 's/SetTotalBytesLimit(kProtoReadBytesLimit, 536870912)/SetTotalBytesLimit(kProtoReadBytesLimit)/' \
    "$SRC/src/caffe/util/io.cpp"
  grep -q 'SetTotalBytesLimit(kProtoReadBytesLimit)' "$SRC/src/caffe/util/io.cpp" || die "protobuf patch did not apply"
  # newer scikit-image: as_grey is now as_gray
  sed -i 's/as_grey=/as_gray=/' "$SRC/python/caffe/io.py"
  touch "$SRC/.patched"
fi

# 3. build pycaffe for this Python ---------------------------------------------------------
if [ ! -f "$BUILD/.built" ]; then
  INC=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  LIB=$("$PY" -c 'import sysconfig, os; d = sysconfig.get_config_var; print(os.path.join(d("LIBDIR"), d("LDLIBRARY")))')
  NUMPY_INC=$("$PY" -c 'import numpy; print(numpy.get_include())')
  say "configuring (cmake) in $BUILD"
  mkdir -p "$BUILD"
  cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCPU_ONLY=ON -DBLAS=open \
    -DUSE_OPENCV=OFF -DUSE_LEVELDB=OFF -DUSE_LMDB=OFF -DBUILD_SHARED_LIBS=OFF \
    -DBUILD_python=ON -DBUILD_python_layer=ON -DBUILD_docs=OFF -Dpython_version=3 \
    -DPYTHON_EXECUTABLE="$PY" -DPYTHON_INCLUDE_DIR="$INC" -DPYTHON_LIBRARY="$LIB" \
    -DNUMPY_INCLUDE_DIR="$NUMPY_INC" > "$BUILD/cmake.log" 2>&1 \
    || die "cmake failed: see $BUILD/cmake.log"
  say "compiling pycaffe (2-4 minutes on 2 cores; log: $BUILD/make.log)"
  make -C "$BUILD" -j"$(nproc)" pycaffe > "$BUILD/make.log" 2>&1 || die "build failed: see $BUILD/make.log"
  touch "$BUILD/.built"
fi

# 4. put pycaffe on the venv's path --------------------------------------------------------
SITE=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$SRC/python" > "$SITE/bvlc_caffe.pth"
GLOG_minloglevel=2 "$PY" -c 'import caffe' || die "pycaffe built but does not import: see the error above"
say "pycaffe ready: $SRC/python (Debian source $VERSION)"
