"""Downloads that resume, verify a checksum, and fail with instructions (weights, UCF-101)."""
import hashlib
import os
import urllib.error
import urllib.request

from common.errors import NO_SPACE


class DownloadError(RuntimeError):
    """A file cannot be downloaded, or is not the expected file."""


def file_digest(path, algorithm="sha1", chunk=1 << 22):
    """The hex digest of a file ("sha1", "sha256", ...)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(url, dest, algorithm=None, expected=None, timeout=30, progress=True, hint="",
          error_type=DownloadError):
    """Download ``url`` to ``dest`` via ``dest.part``, resuming a partial file (HTTP Range).
    With ``expected``, the file's ``algorithm`` digest must match, or it is deleted and refused
    (an ``error_type``); a ``dest`` already there is verified so, not downloaded again. ``hint``
    (what to do by hand) ends the message of an unreachable host; a full disk or an unwritable
    ``dest`` is this machine's error, an OSError naming the file."""
    dest = str(dest)
    if os.path.isfile(dest):
        actual = None if expected is None else file_digest(dest, algorithm)
        if actual != expected:
            raise error_type(f"{dest} has {algorithm.upper()} {actual}, expected {expected}: a "
                             "partial download or another file. Delete it and download it again.")
        return dest
    os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
    partial = dest + ".part"
    done = os.path.getsize(partial) if os.path.exists(partial) else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={done}-"} if done else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if done and response.status != 206:  # the server ignored Range: start over
                done = 0
            total = int(response.headers.get("Content-Length") or 0) + done or None
            from tqdm import tqdm
            with open(partial, "ab" if done else "wb") as out, \
                    tqdm(total=total, initial=done, unit="B", unit_scale=True,
                         desc=os.path.basename(dest), disable=not progress) as bar:
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
                    bar.update(len(block))
    except (urllib.error.URLError, OSError) as error:
        if not isinstance(error, urllib.error.URLError) and (error.filename or error.errno in NO_SPACE):
            raise OSError(error.errno, error.strerror, error.filename or partial) from None  # ours
        raise error_type(f"cannot download {url}: {getattr(error, 'reason', error)}.\n{hint}") from None
    if expected is not None:
        actual = file_digest(partial, algorithm)
        if actual != expected:
            os.remove(partial)
            raise error_type(f"downloaded {url} but its {algorithm.upper()} is {actual}, expected "
                                f"{expected}: refused (deleted). A proxy page or a truncated transfer?")
    os.replace(partial, dest)
    return dest
