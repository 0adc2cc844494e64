"""What a listed video's entry on disk is, when the decoder cannot read it: a broken link, a
link to itself, a named pipe (the decoder would wait for a writer forever), a socket, a device.
The extraction records such a video as a skip with ``entry_problem``'s words (``decoding``);
the digest of the listed videos' sizes takes them instead of a size (``provenance``).
"""
import errno
import os
import stat

KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
         (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
         (stat.S_ISBLK, "a block device"))


def entry_problem(path):
    """None when ``path`` is a regular file (directly or through symbolic links); else why it
    cannot be read as a video, in a few words that name no path (the same on every machine)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            return "missing: a symbolic link whose target does not exist"
        return "missing: the file vanished while the extraction ran"
    except OSError as error:      # a link to itself (ELOOP), a name too long, ...
        name = errno.errorcode.get(error.errno, "OSError")
        return f"unreadable ({name}: {error.strerror})"
    if stat.S_ISREG(mode):
        return None
    kind = next((what for test, what in KINDS if test(mode)), "not a file")
    return f"not a regular file: {kind}"
