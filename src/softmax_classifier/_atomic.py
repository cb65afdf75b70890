"""Atomic writes of output files: the old file or the new one, never a partial one.

Every file this package writes for a user (model files, checkpoints, prediction
CSVs, figures) goes through :func:`atomic_write`:

- the bytes go to a temporary file *beside* the target (same directory, so the
  final rename never crosses file systems), which is flushed and fsynced, then
  renamed over the target with :func:`os.replace`;
- the target must be a regular file or not exist yet: a symbolic link, a
  directory, a device, a FIFO or a socket is refused before anything is
  written (replacing ``/dev/full`` or a symlink is never what was meant);
- the temporary file's name is ``.<target name>.<host>.<pid>.<random>.softmax-tmp``
  (``<host>``: 8 hex digits of a hash of the machine's name). A process killed
  while writing (SIGKILL cannot be caught) leaves it behind; the next write
  beside it removes every such file of a process *of this machine* that is no
  longer running, so killed writes do not pile up, and a directory shared between
  machines (NFS) never loses a temporary that another machine is still writing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import stat

__all__ = [
    "OutputPathError",
    "atomic_write",
    "check_output_path",
    "is_running",
    "remove_stale_temporaries",
    "temporary_path",
]

_SUFFIX = ".softmax-tmp"
_TEMPORARY = re.compile(
    r"^\..+?(?:\.(?P<host>[0-9a-f]{8}))?\.(?P<pid>\d+)\.[0-9a-f]{12}" + re.escape(_SUFFIX) + "$"
)
_HOST = hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


class OutputPathError(ValueError):
    """An output path that cannot be written safely (not a regular file, no directory)."""


def check_output_path(path):
    """Check that ``path`` can be replaced by a new regular file, before any work is done.

    Parameters
    ----------
    path : str or os.PathLike
        The file to be written.

    Returns
    -------
    str
        The absolute path.

    Raises
    ------
    OutputPathError
        If ``path`` exists and is not a regular file (symbolic link, directory,
        device, FIFO, socket), or its directory does not exist.
    PermissionError
        If its directory cannot be written.
    """
    path = os.path.abspath(os.fsdecode(os.fspath(path)))
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    if info is not None and not stat.S_ISREG(info.st_mode):
        kind = _kind(info.st_mode)
        raise OutputPathError(
            f"{path} is {kind}, not a regular file: refusing to replace it "
            "(name a regular file, or '-' for standard output where the command allows it)"
        )
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise OutputPathError(f"cannot write {path}: the directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {path}: the directory {directory} is not writable")
    return path


@contextlib.contextmanager
def atomic_write(path, mode="wb", *, encoding=None, newline=None):
    """Open a temporary file that replaces ``path`` when the block ends without error.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write; checked with :func:`check_output_path` first.
    mode : {"wb", "w"}, default="wb"
        Binary or text.
    encoding, newline : str, optional
        For text mode, as for :func:`open` (``newline="\\n"`` writes LF line ends
        everywhere).

    Yields
    ------
    file object
        Write to it; it is flushed, fsynced and renamed over ``path`` on exit.
        If the block raises, the temporary file is removed and ``path`` is
        untouched.

    Examples
    --------
    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "out.txt")
    >>> with atomic_write(target, "w", encoding="utf-8", newline="\\n") as file:
    ...     _ = file.write("a,b\\n")
    >>> open(target).read()
    'a,b\\n'
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', got {mode!r}")
    path = check_output_path(path)
    directory = os.path.dirname(path)
    remove_stale_temporaries(directory)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temporary = temporary_path(path)
        try:
            fd = os.open(temporary, flags, 0o666)  # the process umask applies, as for open()
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 100 collisions of 48 random bits
        raise FileExistsError(f"cannot create a temporary file next to {path}")
    try:
        if mode == "wb":
            file = os.fdopen(fd, "wb")
        else:
            file = os.fdopen(fd, "w", encoding=encoding or "utf-8", newline=newline)
        with file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        # The target may have become something else while we wrote: check again.
        check_output_path(path)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)


def temporary_path(path):
    """A new name for a temporary file beside ``path``, of the form that
    :func:`remove_stale_temporaries` removes once this process is gone.

    Parameters
    ----------
    path : str or os.PathLike
        The file the temporary will replace.

    Returns
    -------
    str
        ``<directory>/.<name>.<host>.<pid>.<random>.softmax-tmp`` (not created).
    """
    directory, base = os.path.split(os.path.abspath(os.fsdecode(os.fspath(path))))
    return os.path.join(directory, f".{base}.{_HOST}.{os.getpid()}.{os.urandom(6).hex()}{_SUFFIX}")


def remove_stale_temporaries(directory):
    """Remove temporary files of :func:`atomic_write` left by processes that no longer run.

    Only files named by :func:`atomic_write` on this machine are considered (names
    without the machine's tag, from before it was added, count as this machine's).

    Parameters
    ----------
    directory : str or os.PathLike
        Where to look (not recursive).

    Returns
    -------
    int
        How many files were removed.
    """
    removed = 0
    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    for name in names:
        match = _TEMPORARY.match(name)
        if match is None or match["host"] not in (None, _HOST):
            continue
        if is_running(int(match["pid"])):
            continue
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(directory, name))
            removed += 1
    return removed


def is_running(pid):
    """Whether process ``pid`` runs on this machine (another user's counts as running).

    Parameters
    ----------
    pid : int

    Returns
    -------
    bool
    """
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    except OSError:  # pragma: no cover - platforms without signal 0
        return True
    return True


def _kind(mode):
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"  # pragma: no cover


def _fsync_directory(directory):
    # Make the rename itself durable (POSIX); not possible everywhere, so best effort.
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
