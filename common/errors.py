"""One-line messages for the errors a user can fix, shared by the command-line tools."""
import errno

#: Out of space: a full disk, a quota, or a file-size limit (``ulimit -f``).
NO_SPACE = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)

#: The exit status of a command stopped by Ctrl-C (128 + SIGINT, as a shell reports it).
INTERRUPTED = 130


def describe(error):
    """``error`` as one line naming the file and what to do; a full disk says how to resume."""
    if isinstance(error, OSError) and error.errno in NO_SPACE:
        where = f" {error.filename}" if error.filename else ""
        return (f"cannot write{where}: {error.strerror} (disk full or file-size limit); free "
                "space and rerun the same command: it resumes where it stopped")
    if isinstance(error, OSError) and error.filename and error.strerror:
        return f"{error.filename}: {error.strerror}"
    return str(error)
