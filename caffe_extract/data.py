"""Get UCF-101: download (resumable), verify, unpack safely.  `make data` runs this.

    python -m caffe_extract.data [--root data]

What it checks, and what to do without network: docs/data.md ("UCF-101 and its splits").
"""
import os
import shutil
import subprocess
import zipfile

from common import cli, commands
from .download import DownloadError, fetch

APT_INSTALL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "scripts", "apt_install.sh")

BASE = "https://www.crcv.ucf.edu/data/UCF101/"
VIDEOS = {"name": "UCF101.rar", "url": BASE + "UCF101.rar", "sha256": None}
SPLITS = {"name": "UCF101TrainTestSplits-RecognitionTask.zip",
          "url": BASE + "UCF101TrainTestSplits-RecognitionTask.zip", "size": 113943,
          "sha256": "5c0d1a53b8ed364a2ac830a73f405e51bece7d98ce1254fd19ed4a36b224bd27"}
N_CLASSES, N_VIDEOS = 101, 13320


class DataError(DownloadError):
    """The data cannot be had, or is not what it should be."""


def download(url, dest, expected_sha256=None, progress=True):
    """Download (resuming) and verify; nothing to do if ``dest`` is already there."""
    hint = (f"Download it on a machine that can reach the host and put it at {dest}, then rerun "
            "`make data` (it verifies and unpacks files already there).")
    return fetch(url, dest, "sha256", expected_sha256, progress=progress, hint=hint,
                 error_type=DataError)


def safe_members(names, target):
    """Raise DataError if any archive member would be written outside ``target``."""
    root = os.path.realpath(target)
    for name in names:
        path = os.path.realpath(os.path.join(root, name))
        if os.path.isabs(name) or not (path == root or path.startswith(root + os.sep)):
            raise DataError(f"archive member {name!r} would land outside {target}: refused")


def unpack_zip(archive, target):
    with zipfile.ZipFile(archive) as z:
        safe_members(z.namelist(), target)
        z.extractall(target)


def unpack_rar(archive, target):
    """Unpack with unar after checking every member's path with lsar."""
    if shutil.which("unar") is None or shutil.which("lsar") is None:
        try:                                      # as make setup installs its apt packages
            installed = subprocess.run([APT_INSTALL, "unar"]).returncode == 0
        except OSError:                                  # a checkout without scripts/
            installed = False
        if not installed:
            raise DataError("need the 'unar' tool to unpack UCF101.rar: apt-get install unar")
    listing = subprocess.run(["lsar", archive], capture_output=True, text=True)
    if listing.returncode != 0:
        raise DataError(f"cannot list {archive}: {listing.stderr.strip() or listing.stdout[-500:]}")
    safe_members([line.strip() for line in listing.stdout.splitlines()[1:] if line.strip()], target)
    result = subprocess.run(["unar", "-quiet", "-force-skip", "-no-directory", "-output-directory",
                             target, archive], capture_output=True, text=True)
    if result.returncode != 0:
        raise DataError(f"unar failed on {archive}: {result.stderr.strip()}")


def verify_videos(video_root, split_dir):
    """Check the unpacked videos: class folders, video count, every listed video present."""
    from .ucf101 import VideoIndex, read_split
    folders = [d for d in os.listdir(video_root) if os.path.isdir(os.path.join(video_root, d))]
    count = sum(name.endswith(".avi") for _, _, files in os.walk(video_root) for name in files)
    if len(folders) != N_CLASSES or count != N_VIDEOS:
        raise DataError(f"{video_root}: {len(folders)} class folders and {count} videos, "
                        f"expected {N_CLASSES} and {N_VIDEOS}: incomplete or not UCF-101")
    index = VideoIndex(video_root)
    for split in (1, 2, 3):
        _, train, test = read_split(split_dir, split)
        missing = [v.path for v in train + test if index.locate(v.path) is None]
        if missing:
            raise DataError(f"split {split} lists {len(missing)} videos not in {video_root}, "
                            f"e.g. {missing[:3]}")


def get_ucf101(root="data", progress=True):
    """Download, verify and unpack UCF-101 under ``root``; returns (video folder, split folder)."""
    os.makedirs(root, exist_ok=True)
    video_root, split_dir = os.path.join(root, "UCF-101"), os.path.join(root, "ucfTrainTestlist")
    if not os.path.isdir(split_dir):
        zip_path = download(SPLITS["url"], os.path.join(root, SPLITS["name"]), SPLITS["sha256"],
                            progress=progress)
        unpack_whole(unpack_zip, zip_path, split_dir)
    if not os.path.isdir(video_root):
        rar_path = download(VIDEOS["url"], os.path.join(root, VIDEOS["name"]), progress=progress)
        unpack_whole(unpack_rar, rar_path, video_root)
    verify_videos(video_root, split_dir)
    return video_root, split_dir


def unpack_whole(unpack, archive, folder):
    """``unpack(archive, ...)`` into a staging folder beside ``folder``, then its top folder
    (named as ``folder``) moved into place: an unpack cut short (Ctrl-C, a full disk) is never
    taken for a whole one, and the rerun unpacks again."""
    staging = folder + ".unpacking"
    shutil.rmtree(staging, ignore_errors=True)
    unpack(archive, staging)
    os.replace(os.path.join(staging, os.path.basename(folder)), folder)
    shutil.rmtree(staging)


def main(argv=None):
    parser = commands.parser("python -m caffe_extract.data", "Download, verify and unpack UCF-101.")
    parser.add_argument("--root", default="data", type=cli.writable_dir, help="where to put it (%(default)s)")
    root = parser.parse_args(argv).root
    return commands.guarded(lambda: get_and_say(root), (DataError, OSError))


def get_and_say(root):
    videos, splits = get_ucf101(root)
    print(f"UCF-101 ready: videos in {videos}, splits in {splits}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
