"""Joining the stores of shards 0/n .. n-1/n (``extract --shard i/n``) into the store one run
would have written, refusing shards that do not belong together and naming the culprit.
"""
import os

import numpy as np

from .store import read_store, write_store


def merge(shard_files, out):
    """Join the stores of shards 0/n .. n-1/n into the store one run would have written."""
    import h5py
    if any(os.path.abspath(out) == os.path.abspath(p) for p in shard_files):
        raise ValueError(f"--out {out} is one of the shards: write the merged store elsewhere")
    parts = []
    for path in shard_files:
        data = read_store(path, views=None)          # a views store's shards too
        with h5py.File(path, "r") as f:
            if "index" not in f:
                raise ValueError(f"{path} is not a shard store (no 'index'): was it made with --shard?")
            data["index"], data["failed_index"] = f["index"][()], f["failed_index"][()]
        parts.append(data)
    attrs = [{k: v for k, v in p["attrs"].items() if k != "shard"} for p in parts]
    for path, part, a in zip(shard_files[1:], parts[1:], attrs[1:]):
        differ = sorted(k for k in a.keys() | attrs[0].keys() if str(a.get(k)) != str(attrs[0].get(k)))
        if differ:
            key, more = differ[0], f"; also {', '.join(differ[1:])}" if len(differ) > 1 else ""
            raise ValueError(f"{path} comes from another extraction than {shard_files[0]}: its "
                             f"{key} is {a.get(key)!r}, not {attrs[0].get(key)!r}{more}; rerun "
                             "that shard with the same settings")
        if list(part["classes"]) != list(parts[0]["classes"]):
            raise ValueError(f"{path} lists other classes than {shard_files[0]}: made from "
                             "another classInd.txt; rerun that shard with the same split files")
    shards = [p["attrs"]["shard"] for p in parts]
    n = int(shards[0].split("/")[1])
    for path, shard in zip(shard_files, shards):
        if shards.count(shard) > 1:
            raise ValueError(f"{path} is shard {shard}, given twice; pass each shard once")
    missing = [f"{i}/{n}" for i in range(n) if f"{i}/{n}" not in shards]
    if missing or len(shards) != n:
        raise ValueError(f"need shards 0/{n} .. {n - 1}/{n} exactly once: shard(s) "
                         f"{', '.join(missing) or '?'} missing (given: {', '.join(shard_files)})")
    index = np.concatenate([p["index"] for p in parts])
    failed_index = np.concatenate([p["failed_index"] for p in parts])
    listed = int(attrs[0]["n_videos_listed"])
    if sorted(np.concatenate([index, failed_index]).tolist()) != list(range(listed)):
        raise ValueError("the shards do not cover every listed video exactly once")
    order = np.argsort(index, kind="stable")
    # a shard without a stored video (more shards than chunks) has no codes, and no codes' shape
    stored = [p for p in parts if len(p["index"])] or parts[:1]
    records = {k: np.concatenate([p[k] for p in stored])[order]
               for k in ("features", "labels", "video", "group", "frame_times",
                         "split_membership", "warning") if k in stored[0]}
    failed = sorted(zip(failed_index.tolist(),
                        (v for p in parts for v in p["failed_video"]),
                        (r for p in parts for r in p["failed_reason"])))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    write_store(out, records, [(v, r) for _, v, r in failed], list(parts[0]["classes"]), attrs[0])
    return out
