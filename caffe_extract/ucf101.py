"""UCF-101's class list and split files, with their quirks, and a group-disjoint validation split.

``classInd.txt`` (``1 ApplyEyeMakeup``), ``trainlist0K.txt`` (``Class/v_Class_gXX_cYY.avi
label``), ``testlist0K.txt`` (paths only), K = 1, 2, 3; their quirks: docs/data.md, "UCF-101
and its splits". Labels in the files are 1-based, **ours 0-based**. ``gXX`` is a group of
clips of the same actors and scene.
"""
import os
import random
import re
from dataclasses import dataclass

from configurations import TRAINING

NAME = re.compile(r"^v_(?P<cls>[A-Za-z]+)_g(?P<group>\d+)_c(?P<clip>\d+)\.avi$")
SPLITS = (1, 2, 3)
TRAIN, TEST = 1, 2   # the values of a split membership table (0: not listed in that split)


class SplitFileError(ValueError):
    """A split file that cannot be read as UCF-101's format (names file and line)."""


@dataclass(frozen=True)
class Video:
    """One listed clip. path: as listed ("Class/v_Class_gXX_cYY.avi"); label: 0-based."""

    path: str
    label: int
    group: int
    clip: int


def _lines(path):
    try:
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()
    except OSError as error:
        raise SplitFileError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        with open(path, "rb") as f:
            line = f.read(error.start).count(b"\n") + 1
        raise SplitFileError(f"{path}, line {line}: not UTF-8 text (byte "
                             f"0x{error.object[error.start]:02x}); is this a split file?") from None
    for number, line in enumerate(text.splitlines(), start=1):  # \r\n and \n alike
        if line.strip():
            yield number, line.strip()


def read_classes(path):
    """Class names in label order (0-based) from classInd.txt ("1 ApplyEyeMakeup" per line)."""
    names = []
    for number, line in _lines(path):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise SplitFileError(f"{path}, line {number}: expected 'INDEX ClassName', got {line!r}")
        if int(parts[0]) != len(names) + 1:
            raise SplitFileError(f"{path}, line {number}: class index {parts[0]} out of order "
                                 f"(expected {len(names) + 1})")
        names.append(parts[1])
    if not names:
        raise SplitFileError(f"{path} lists no classes")
    return names


def parse_name(path):
    """(class, group, clip) from "Class/v_Class_gXX_cYY.avi"; None if the name is not UCF-101's."""
    match = NAME.match(path.replace("\\", "/").split("/")[-1])
    if match is None:
        return None
    return match["cls"], int(match["group"]), int(match["clip"])


def read_list(path, classes):
    """The videos of one train or test list. classes: from ``read_classes``."""
    index = {name.lower(): i for i, name in enumerate(classes)}
    videos, seen = [], {}
    for number, line in _lines(path):
        parts = line.split()
        where = f"{path}, line {number}"
        if len(parts) not in (1, 2) or "/" not in parts[0]:
            raise SplitFileError(f"{where}: expected 'Class/v_Class_gXX_cYY.avi [label]', got {line!r}")
        folder = parts[0].split("/")[0]
        if folder.lower() not in index:
            raise SplitFileError(f"{where}: unknown class {folder!r} (not in classInd.txt)")
        label = index[folder.lower()]
        if len(parts) == 2 and (not parts[1].isdigit() or int(parts[1]) - 1 != label):
            raise SplitFileError(f"{where}: label {parts[1]} does not match class "
                                 f"{folder!r} (index {label + 1} in classInd.txt)")
        parsed = parse_name(parts[0])
        if parsed is None:
            raise SplitFileError(f"{where}: {parts[0]!r} is not a UCF-101 clip name "
                                 "(v_Class_gXX_cYY.avi)")
        key = parts[0].lower()
        if key in seen:
            raise SplitFileError(f"{where}: {parts[0]} is listed twice (first on line {seen[key]})")
        seen[key] = number
        videos.append(Video(parts[0], label, parsed[1], parsed[2]))
    return videos


def read_split(split_dir, split=TRAINING.split):
    """(classes, train, test) for official split 1, 2 or 3 from the folder of split files."""
    if split not in SPLITS:
        raise ValueError(f"UCF-101 has splits 1, 2 and 3, not {split}")
    classes = read_classes(os.path.join(split_dir, "classInd.txt"))
    train = read_list(os.path.join(split_dir, f"trainlist0{split}.txt"), classes)
    test = read_list(os.path.join(split_dir, f"testlist0{split}.txt"), classes)
    return classes, train, test


def read_all_splits(split_dir):
    """(classes, videos, membership) for the three official splits at once: ``videos`` holds
    each listed clip once, in the order of first listing (trainlist01, testlist01, ...);
    ``membership`` is a list of N rows of 3, entry K-1 saying TRAIN (1), TEST (2) or 0 (not
    listed) for split K (the store keeps it as an (N, 3) int8 table). A video listed twice in one split is an error."""
    listed = {}   # the path's key -> (video, row), in the order of first listing
    for split in SPLITS:
        classes, train, test = read_split(split_dir, split)
        for role, videos in ((TRAIN, train), (TEST, test)):
            for video in videos:
                key = video.path.replace("\\", "/").lower()
                _, row = listed.setdefault(key, (video, [0] * len(SPLITS)))
                if row[split - 1]:   # read_list refuses duplicates within one list
                    raise SplitFileError(
                        f"{os.path.join(split_dir, f'testlist0{split}.txt')}: {video.path} is "
                        f"also in trainlist0{split}.txt; a video is listed twice in split {split}")
                row[split - 1] = role
    return classes, [video for video, _ in listed.values()], [row for _, row in listed.values()]


def validation_split(train, n_groups=3, seed=0):
    """(train, validation): the clips of ``n_groups`` group numbers, drawn with ``seed`` from
    the groups of the train list, go to validation, in every class at once (as the official
    splits hold out groups 1-7 of every class). Group-disjoint from what stays in train."""
    groups = sorted({v.group for v in train})
    if not 0 < n_groups < len(groups):
        raise ValueError(f"n_groups must be between 1 and {len(groups) - 1}, got {n_groups}")
    held_out = set(random.Random(seed).sample(groups, n_groups))
    return ([v for v in train if v.group not in held_out],
            [v for v in train if v.group in held_out])


class VideoIndex:
    """Finds listed videos under the UCF-101 video folder, case-insensitively if need be."""

    def __init__(self, root):
        self.root = str(root)
        self._lower = None

    def locate(self, listed):
        """The path on disk of a listed "Class/v_...avi", or None if it is not there."""
        exact = os.path.join(self.root, listed)
        if os.path.isfile(exact):
            return exact
        if self._lower is None:
            self._lower = {os.path.relpath(full, self.root).lower(): full
                           for folder, _, files in os.walk(self.root)
                           for full in (os.path.join(folder, name) for name in files)}
        return self._lower.get(listed.replace("\\", "/").lower())
