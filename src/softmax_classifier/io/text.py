"""Text data files (CSV, LIBSVM) as bytes: decompressed on the fly, cut into whole lines.

A streamed text file is read as byte ranges of whole lines: a first pass cuts
it (:func:`text_chunks`) and records the ranges, later passes read the same
ranges again (:func:`read_ranges`), in file order or in a shuffled one. A
compressed file (``.gz``, ``.bz2``) cannot be entered at an offset, so it is
cut again from the start on every pass.

This module needs only the standard library.
"""

from __future__ import annotations

from softmax_classifier.io.errors import reading

__all__ = [
    "SAMPLE_BYTES",
    "mean_line_bytes",
    "open_binary",
    "read_ranges",
    "sample_line_bytes",
    "text_chunks",
]

#: Text read to measure the mean line length of a file.
SAMPLE_BYTES = 2**20


def open_binary(path):
    """A text file opened for reading bytes, decompressed on the fly (``.gz``, ``.bz2``).

    Parameters
    ----------
    path : str

    Returns
    -------
    file object
        Binary, readable; a context manager.
    """
    lowered = path.lower()
    if lowered.endswith(".gz"):
        import gzip

        return gzip.open(path, "rb")
    if lowered.endswith(".bz2"):
        import bz2

        return bz2.open(path, "rb")
    return open(path, "rb")


def mean_line_bytes(text):
    """The mean length of the lines of ``text``, in bytes (a last line may lack its newline).

    Parameters
    ----------
    text : bytes

    Returns
    -------
    float

    Examples
    --------
    >>> mean_line_bytes(b"1 1:2\\n2 3:4\\n"), mean_line_bytes(b"a,b\\nc"), mean_line_bytes(b"")
    (6.0, 2.5, 0.0)
    """
    lines = text.count(b"\n") + (not text.endswith(b"\n"))
    return len(text) / max(lines, 1)


def sample_line_bytes(path):
    """The mean line length of the first :data:`SAMPLE_BYTES` (1 MiB) of a text file.

    Parameters
    ----------
    path : str
        Maybe compressed (see :func:`open_binary`).

    Returns
    -------
    float
    """
    with reading(path), open_binary(path) as f:
        return mean_line_bytes(f.read(SAMPLE_BYTES))


def text_chunks(path, chunk_bytes, skip=0):
    """The file cut into chunks of whole lines of about ``chunk_bytes`` bytes.

    Parameters
    ----------
    path : str
        A text file, maybe compressed (see :func:`open_binary`).
    chunk_bytes : int
        Bytes read at a time; a chunk is completed to the end of its last line.
    skip : int, default=0
        Bytes (a header line) left out first.

    Yields
    ------
    start : int
        The chunk's byte offset in the (decompressed) file.
    chunk : bytes
        Whole lines, ``len(chunk) >= chunk_bytes`` but for the last one.

    Raises
    ------
    DataFileError
        For a file that cannot be read or decompressed.
    """
    with reading(path), open_binary(path) as f:
        f.read(skip)
        start = skip
        while chunk := f.read(chunk_bytes):
            if not chunk.endswith(b"\n"):
                chunk += f.readline()
            yield start, chunk
            start += len(chunk)


def read_ranges(path, ranges, order):
    """The bytes of recorded ranges of an uncompressed file, in the order asked.

    Parameters
    ----------
    path : str
    ranges : sequence of tuple
        ``(start, end, ...)`` byte offsets, as :func:`text_chunks` gave them.
    order : iterable of int
        Indices into ``ranges``.

    Yields
    ------
    k : int
        The index of the range.
    chunk : bytes
        Its bytes.
    """
    with reading(path), open(path, "rb") as f:
        for k in order:
            start, end = ranges[k][:2]
            f.seek(start)
            yield k, f.read(end - start)
