"""The safetensors codec: float tensors and a versioned JSON metadata object -> bytes.

Generic: it knows the file layout, the canonical header, the hash and the reader's
limits, and nothing of what a model is. A :class:`FileFormat` (supplied by a schema)
names the format, its versions and hash keys, and the checks that tell a valid file of
it; the codec runs them at the right moments: the header's check before any tensor is
read (or any byte written), the values' check once every tensor is known to be finite.
This module holds what writer and reader share, and the writer;
:mod:`softmax_classifier.model_file._reader` is the reader. Everything wrong raises
:class:`ModelFileError` with a one-line message.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from softmax_classifier._atomic import atomic_write
from softmax_classifier.model_file._json import (
    JSONError,
    canonical_text,
    json_type,
    parse_json,
    short,
)

__all__ = [
    "DTYPES",
    "HEADER_ALIGN",
    "MAX_FILE_BYTES",
    "MAX_HEADER_BYTES",
    "NUMPY_NAMES",
    "FileFormat",
    "ModelFileError",
    "check_finite",
    "dumps",
    "header_pieces",
    "parse_object",
    "save",
]

MAX_FILE_BYTES = 2**31
"""Larger files are refused before they are read."""

MAX_HEADER_BYTES = 2**24
"""Largest header length accepted (16 MiB), checked before the header is read.

A header is a few kilobytes plus what grows with the model: about 5 bytes plus the
name's length per feature name and per class label, and about 20 bytes per iteration of
the fit report's objective history. 400,000 feature names of 20 characters with 100,000
iterations of history make an 11.4 MiB header. Parsing a header takes memory in
proportion to its length: about 8 times for such a header, at most about 14 times for
any header that loads (see ``docs/model_files.md``).
"""

# safetensors dtype name -> (little-endian dtype as stored, native dtype returned).
DTYPES = {
    "F32": (np.dtype("<f4"), np.dtype(np.float32)),
    "F64": (np.dtype("<f8"), np.dtype(np.float64)),
}
_DTYPE_NAMES = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64"}
# str(dtype) runs Python code in NumPy that imports a module; loading must import nothing.
NUMPY_NAMES = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}
"""The NumPy name of each dtype a tensor may have (the keys are the allowed dtypes)."""
HEADER_ALIGN = 8
_PIECE_CHARS = 2**16  # characters of a long string escaped at a time


class ModelFileError(ValueError):
    """The one exception a malformed, truncated, oversized, tampered or incompatible model
    file raises."""


@dataclass(frozen=True)
class FileFormat:
    """What the codec needs to know of one file format; a schema supplies it.

    Attributes
    ----------
    name : str
        The metadata's ``"format"`` value; messages call a file "a ``name`` model file".
    entry : str
        The header's ``__metadata__`` entry that holds the metadata's JSON text.
    hash_keys : dict of int to str
        ``{format_version: the metadata key of its hex SHA-256}`` for every version read;
        the largest version is the one written.
    canonical_since : int
        From this version on the header must be canonical and the hash covers the whole
        file; older versions hash the tensor bytes only, in sorted name order.
    check_header : callable
        ``check_header(specs, metadata, check_hash)`` with ``specs`` ``{name: (dtype,
        shape)}``: the schema's checks, run before any tensor is read (and, with
        ``check_hash=False``, before a file is written). Raises :class:`ModelFileError`.
    check_values : callable
        ``check_values(tensors)``: the schema's checks of tensor values, after all are
        known to be finite. Raises :class:`ModelFileError`.
    """

    name: str
    entry: str
    hash_keys: Mapping[int, str]
    canonical_since: int
    check_header: Callable[[dict, dict, bool], None]
    check_values: Callable[[dict], None]

    @property
    def version(self):
        """int: the ``"format_version"`` written (the newest)."""
        return max(self.hash_keys)

    @property
    def read_versions(self):
        """tuple of int: the versions read, in increasing order."""
        return tuple(sorted(self.hash_keys))

    @property
    def versions_text(self):
        """The versions read, for messages (``"1 and 2"``)."""
        return " and ".join(map(str, self.read_versions))


def parse_object(raw, what):
    """Parse strict JSON that must be an object (see :func:`._json.parse_json`).

    Parameters
    ----------
    raw : bytes or str
    what : str
        What is parsed, for messages.

    Returns
    -------
    dict

    Raises
    ------
    ModelFileError
        If the text is not acceptable JSON or not an object.
    """
    try:
        value = parse_json(raw, what)
    except JSONError as error:
        raise ModelFileError(str(error)) from None
    if not isinstance(value, dict):
        raise ModelFileError(f"{what} is a JSON {json_type(value)}, not an object")
    return value


def check_finite(tensors):
    """Refuse NaN and infinity in any tensor.

    Parameters
    ----------
    tensors : dict of str to ndarray
        Float arrays of any shape.

    Raises
    ------
    ModelFileError
        Naming the first tensor with a non-finite value.
    """
    for name, array in tensors.items():
        if not np.isfinite(array).all():
            raise ModelFileError(
                f"tensor {short(name)} contains non-finite values (NaN or infinity)"
            )


# -- writing -----------------------------------------------------------------------------


def header_pieces(metadata_entries, entries):
    """The canonical header, unpadded, as ASCII str pieces of at most a few hundred KiB.

    Parameters
    ----------
    metadata_entries : dict of str to str
        The ``__metadata__`` object (written in sorted key order).
    entries : dict of str to (str, tuple, int, int)
        ``{name: (dtype code, shape, begin, end)}`` (written in sorted name order).

    Yields
    ------
    str
        Pieces whose concatenation is ``json.dumps(header, separators=(",", ":"))``
        (ASCII). Long strings are escaped piece by piece (escaping is per character), so
        checking or hashing a large header never holds a second copy of it.
    """
    yield '{"__metadata__":{'
    for i, key in enumerate(sorted(metadata_entries)):
        yield ("," if i else "") + json.dumps(key) + ':"'
        value = metadata_entries[key]
        for start in range(0, len(value), _PIECE_CHARS):
            yield json.dumps(value[start : start + _PIECE_CHARS])[1:-1]
        yield '"'
    yield "}"
    for name in sorted(entries):
        code, shape, begin, end = entries[name]
        entry = {"dtype": code, "shape": list(shape), "data_offsets": [begin, end]}
        yield "," + json.dumps(name) + ":" + json.dumps(entry, separators=(",", ":"))
    yield "}"


def _header_bytes(metadata_entries, entries):
    """The canonical header, unpadded, as bytes (see :func:`header_pieces`)."""
    return "".join(header_pieces(metadata_entries, entries)).encode("ascii")


def _padded(header):
    return header + b" " * (-len(header) % HEADER_ALIGN)


def _checked_arrays(tensors):
    """The tensors as native, C-contiguous float32/float64 arrays, after type checks."""
    arrays = {}
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise ModelFileError(f"tensor names must be strings, got {short(name)}")
        if not isinstance(value, np.ndarray):
            raise ModelFileError(
                f"tensor {name!r} must be a NumPy array, got {type(value).__name__}"
            )
        if value.dtype.kind != "f" or value.dtype.itemsize not in (4, 8):
            raise ModelFileError(
                f"tensor {name!r} has dtype {value.dtype}; only float32 and float64 are allowed"
            )
        native = np.dtype(np.float32) if value.dtype.itemsize == 4 else np.dtype(np.float64)
        arrays[name] = np.ascontiguousarray(value, dtype=native)
    return arrays


def _serialise(tensors, metadata, file_format):
    """Check and lay out a file: ``(prefix, chunks)``, the file being ``prefix + chunks``.

    ``prefix`` is the header length and the padded header; ``chunks`` are the tensors'
    little-endian bytes as ``uint8`` arrays (views where no conversion is needed).
    """
    if not isinstance(tensors, Mapping):
        raise ModelFileError(f"tensors must be a dict of arrays, got {type(tensors).__name__}")
    if not isinstance(metadata, Mapping):
        raise ModelFileError(f"metadata must be a dict, got {type(metadata).__name__}")
    arrays = _checked_arrays(tensors)
    check_finite(arrays)
    file_format.check_values(arrays)

    hash_keys = set(file_format.hash_keys.values())
    meta = {k: v for k, v in metadata.items() if k not in hash_keys}
    meta["format"] = file_format.name
    meta["format_version"] = file_format.version
    try:
        text = canonical_text(meta)
    except (TypeError, ValueError, RecursionError) as error:
        raise ModelFileError(f"metadata cannot be written as JSON: {error}") from None
    # What a reader will see is the metadata after its JSON round trip; it must be
    # canonical again, or the file would not load.
    parsed = parse_object(text, "metadata")
    if canonical_text(parsed) != text:  # pragma: no cover - json round trips are stable
        raise ModelFileError("metadata does not survive a JSON round trip unchanged")

    chunks, entries, offset = [], {}, 0
    for name in sorted(arrays):
        code = _DTYPE_NAMES[arrays[name].dtype]
        chunk = arrays[name].astype(DTYPES[code][0], copy=False).reshape(-1).view(np.uint8)
        entries[name] = (code, arrays[name].shape, offset, offset + chunk.size)
        offset += chunk.size
        chunks.append(chunk)
    specs = {name: (array.dtype, array.shape) for name, array in arrays.items()}
    file_format.check_header(specs, parsed, False)

    digest = hashlib.sha256(_header_bytes({file_format.entry: text}, entries))
    for chunk in chunks:
        digest.update(chunk)
    parsed[file_format.hash_keys[file_format.version]] = digest.hexdigest()
    header = _padded(_header_bytes({file_format.entry: canonical_text(parsed)}, entries))
    return len(header).to_bytes(8, "little") + header, chunks


def dumps(tensors, metadata, file_format):
    """The bytes of a file of ``file_format`` holding ``tensors`` and ``metadata``.

    Parameters
    ----------
    tensors : dict of str to ndarray
        float32 or float64 arrays of any shape, byte order and memory layout; finite.
    metadata : dict
        JSON-serialisable (NumPy scalars and arrays become Python numbers and lists).
        ``"format"``, ``"format_version"`` and the version's hash key are set here
        (replacing any given; other versions' hash keys are dropped).
    file_format : FileFormat

    Returns
    -------
    bytes
        Header length, canonical header, tensors in sorted name order.

    Raises
    ------
    ModelFileError
        If the tensors or metadata are not a valid file of the format (so that a file
        that is written always loads).
    """
    prefix, chunks = _serialise(tensors, metadata, file_format)
    return b"".join([prefix, *(chunk.data for chunk in chunks)])


def save(path, tensors, metadata, file_format):
    """Write the bytes of :func:`dumps` atomically, the tensors straight from their arrays.

    Parameters
    ----------
    path : str or os.PathLike
    tensors, metadata, file_format
        As for :func:`dumps`.

    Raises
    ------
    ModelFileError
        If the file would be invalid (nothing is written).
    softmax_classifier._atomic.OutputPathError
        If ``path`` cannot be a regular file (nothing is written).
    OSError
        If the file cannot be written (the old file, if any, is untouched).
    """
    prefix, chunks = _serialise(tensors, metadata, file_format)
    with atomic_write(path, "wb") as file:
        file.write(prefix)
        for chunk in chunks:
            file.write(chunk.data)
