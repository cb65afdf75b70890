"""Model files: tensors and JSON metadata to bytes and back, validated and hashed whole.

A model file is one `safetensors <https://huggingface.co/docs/safetensors>`_ file,
written and read by the small code in this module (the ``safetensors`` package is not
needed; files written here load with it):

=============  ==============================================================
bytes          content
=============  ==============================================================
``0 .. 8``     ``N``, the header length, unsigned 64-bit little-endian
``8 .. 8+N``   the header: a JSON object in ASCII, padded with spaces to a
               multiple of 8 bytes
``8+N ..``     the tensor buffer: each tensor little-endian, C-order,
               contiguous; together they cover the buffer exactly
=============  ==============================================================

The header maps each tensor name to ``{"dtype": "F32" | "F64", "shape": [...],
"data_offsets": [begin, end]}`` (offsets relative to the buffer start) and holds
``{"__metadata__": {"softmax_classifier": "<metadata as a JSON string>"}}``. The
metadata carries ``"format": "softmax-classifier"``, ``"format_version": 2`` and
``"sha256"``; ``docs/model_files.md`` has the whole schema.

**Canonical header (format version 2).** The header is exactly the bytes
:func:`dumps` writes, and a reader re-creates them from what it parsed and compares:
``json.dumps(header, separators=(",", ":"), ensure_ascii=True)`` with
``"__metadata__"`` first (its entries sorted by key), then the tensors in sorted name
order, each with its fields in the order ``dtype``, ``shape``, ``data_offsets``; the
metadata string is ``json.dumps(metadata, sort_keys=True, separators=(",", ":"),
ensure_ascii=True, allow_nan=False)``; then spaces up to a multiple of 8 bytes.

**The hash.** ``"sha256"`` is the hex SHA-256 of the canonical header of the same file
*without* the ``"sha256"`` key (unpadded), followed by the tensor buffer. So it covers
every byte of the file except itself and the padding, and because the header must be
canonical, no byte of a version-2 file can change (classes, feature names, shapes,
hyperparameters, tensors, padding, the length field) without the file being refused.
What it proves: the file is the one the writer wrote, against accidental damage
(disk, transfer, truncation) and against edits by hand or by tools that do not
recompute it. What it does **not** prove: who wrote it. Anyone can recompute a
SHA-256, so it is not a signature and not authenticity; to trust a file from someone
else, check it against a checksum or signature obtained from them separately.

Format version 1 (written by softmax-classifier 0.1.0) is still read. Its hash
(``"tensors_sha256"``) covers the tensor bytes only and its header need not be
canonical, so an edit of its metadata (a renamed or reordered class, permuted feature
names) is caught only when it makes the model inconsistent. Saving a loaded model
writes version 2.

Loading parses numbers and JSON only: nothing in a file is unpickled, imported or
evaluated, and no module is imported while loading. The header is read and checked
first (its length against :data:`MAX_HEADER_BYTES`, UTF-8, strict JSON without
duplicate keys, non-finite numbers, huge integers or more than 512 objects and
arrays, dtypes, shapes, offsets and the exact tiling of the buffer, format name and
version, the softmax-model schema of :func:`validate_softmax_model`, the canonical
form); only then are the tensors read, straight into their arrays, and the SHA-256
and the tensor values checked. Anything wrong raises :class:`ModelFileError` with a
one-line message.

Tensors of a softmax model (``c`` classes, ``d`` features):

- ``coef`` ``(c, d)`` and ``intercept`` ``(c,)``, both F32 or both F64;
- optionally ``feature_mean`` and ``feature_scale`` ``(d,)`` F64, the
  standardisation statistics (both or neither; ``feature_scale > 0``).

Examples
--------
>>> import numpy as np
>>> from softmax_classifier import model_file
>>> tensors = {"coef": np.array([[1.0, -2.0], [0.5, 0.0]]), "intercept": np.zeros(2)}
>>> metadata = {
...     "library_version": "0.1.0",
...     "classes": ["cat", "dog"],
...     "class_type": "str",
...     "n_features": 2,
...     "feature_names": None,
...     "dtype": "float64",
...     "preprocessing": {"standardize": False, "center": False},
...     "hyperparameters": {"alpha": 0.1},
...     "fit_report": None,
... }
>>> data = model_file.dumps(tensors, metadata)
>>> loaded, meta = model_file.loads(data)
>>> loaded["coef"]
array([[ 1. , -2. ],
       [ 0.5,  0. ]])
>>> meta["format"], meta["format_version"]
('softmax-classifier', 2)
>>> model_file.restore_classes(meta)
array(['cat', 'dog'], dtype='<U3')
>>> model_file.loads(data.replace(b"dog", b"doG"))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
softmax_classifier.model_file.ModelFileError: the file does not match its SHA-256 ...
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import reprlib
import stat
from collections.abc import Mapping

import numpy as np

from softmax_classifier._atomic import atomic_write

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MAX_FILE_BYTES",
    "MAX_HEADER_BYTES",
    "READ_FORMAT_VERSIONS",
    "ModelFileError",
    "dumps",
    "load",
    "loads",
    "restore_classes",
    "save",
    "validate_softmax_model",
]

FORMAT_NAME = "softmax-classifier"
"""The value of the metadata's ``"format"`` key."""

FORMAT_VERSION = 2
"""The format version written by this version."""

READ_FORMAT_VERSIONS = (1, 2)
"""The format versions this version reads."""

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

_METADATA_KEY = "softmax_classifier"
_HASH_KEYS = {1: "tensors_sha256", 2: "sha256"}  # format version -> the hash's key
# safetensors dtype name -> (little-endian dtype as stored, native dtype returned).
_DTYPES = {
    "F32": (np.dtype("<f4"), np.dtype(np.float32)),
    "F64": (np.dtype("<f8"), np.dtype(np.float64)),
}
_DTYPE_NAMES = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64"}
# str(dtype) runs Python code in NumPy that imports a module; loading must import nothing.
_NUMPY_NAMES = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}
_TENSOR_FIELDS = ("dtype", "shape", "data_offsets")
_MAX_NDIM = 32
_MAX_INT_CHARS = 40  # longer JSON integers are refused while parsing (no quadratic int())
_MAX_CONTAINERS = 512  # JSON objects + arrays per document; a model needs a few dozen
_MAX_CLASS_INT = 2**63 - 1
_VERSIONS_TEXT = " and ".join(map(str, READ_FORMAT_VERSIONS))
_HEADER_ALIGN = 8
_PIECE_CHARS = 2**16  # characters of a long string escaped at a time
# A JSON string literal (with escapes), to blank out strings before counting brackets.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)

_TENSOR_NAMES = {"coef", "intercept", "feature_mean", "feature_scale"}
_CLASS_TYPES = {"int": np.int64, "float": np.float64, "str": np.str_, "bool": np.bool_}
_REQUIRED_METADATA = (
    "format",
    "format_version",
    "library_version",
    "classes",
    "class_type",
    "n_features",
    "feature_names",
    "dtype",
    "preprocessing",
    "hyperparameters",
    "fit_report",
)

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60
_repr.maxlist = _repr.maxdict = _repr.maxtuple = 6
_repr.maxlevel = 3


class ModelFileError(ValueError):
    """The one exception a malformed, truncated, oversized, tampered or incompatible model
    file raises."""


def _short(value):
    """``repr(value)``, shortened to a few dozen characters and always one line."""
    return _repr.repr(value)


# -- writing -----------------------------------------------------------------------------


def _metadata_text(metadata):
    """The canonical JSON text of the metadata (sorted keys, no spaces, ASCII)."""
    return json.dumps(
        metadata,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
        default=_json_default,
    )


def _header_pieces(metadata_entries, entries):
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
    """The canonical header, unpadded, as bytes (see :func:`_header_pieces`)."""
    return "".join(_header_pieces(metadata_entries, entries)).encode("ascii")


def _padded(header):
    return header + b" " * (-len(header) % _HEADER_ALIGN)


def _serialise(tensors, metadata):
    """Check and lay out a model: ``(prefix, chunks)``, the file being ``prefix + chunks``.

    ``prefix`` is the header length and the padded header; ``chunks`` are the tensors'
    little-endian bytes as ``uint8`` arrays (views where no conversion is needed).
    """
    if not isinstance(tensors, Mapping):
        raise ModelFileError(f"tensors must be a dict of arrays, got {type(tensors).__name__}")
    if not isinstance(metadata, Mapping):
        raise ModelFileError(f"metadata must be a dict, got {type(metadata).__name__}")
    arrays = {}
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise ModelFileError(f"tensor names must be strings, got {_short(name)}")
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
    _check_tensor_values(arrays)

    meta = {k: v for k, v in metadata.items() if k not in _HASH_KEYS.values()}
    meta["format"] = FORMAT_NAME
    meta["format_version"] = FORMAT_VERSION
    try:
        text = _metadata_text(meta)
    except (TypeError, ValueError, RecursionError) as error:
        raise ModelFileError(f"metadata cannot be written as JSON: {error}") from None
    # What a reader will see is the metadata after its JSON round trip; it must be
    # canonical again, or the file would not load.
    parsed = _parse_metadata_text(text)
    if _metadata_text(parsed) != text:  # pragma: no cover - json round trips are stable
        raise ModelFileError("metadata does not survive a JSON round trip unchanged")

    names = sorted(arrays)
    chunks, entries, offset = [], {}, 0
    for name in names:
        stored = _DTYPES[_DTYPE_NAMES[arrays[name].dtype]][0]
        chunk = arrays[name].astype(stored, copy=False).reshape(-1).view(np.uint8)
        entries[name] = (_DTYPE_NAMES[arrays[name].dtype], arrays[name].shape, offset,
                         offset + chunk.size)  # fmt: skip
        offset += chunk.size
        chunks.append(chunk)
    specs = {name: (arrays[name].dtype, arrays[name].shape) for name in names}
    _check_schema(specs, parsed, check_hash=False)

    digest = hashlib.sha256(_header_bytes({_METADATA_KEY: text}, entries))
    for chunk in chunks:
        digest.update(chunk)
    parsed["sha256"] = digest.hexdigest()
    header = _padded(_header_bytes({_METADATA_KEY: _metadata_text(parsed)}, entries))
    return len(header).to_bytes(8, "little") + header, chunks


def dumps(tensors, metadata):
    """Serialise a softmax model's tensors and metadata to the bytes of a model file.

    Parameters
    ----------
    tensors : dict of str to ndarray
        ``coef (n_classes, n_features)``, ``intercept (n_classes,)``, both float32 or both
        float64, and optionally ``feature_mean (n_features,)`` and
        ``feature_scale (n_features,)`` float64. Any byte order or memory layout; the
        values must be finite.
    metadata : dict
        JSON-serialisable (NumPy scalars and arrays are converted to Python numbers and
        lists) with the keys listed in :func:`validate_softmax_model`, except
        ``"format"``, ``"format_version"`` and ``"sha256"``, which are added here
        (and replace any given; a version-1 ``"tensors_sha256"`` is dropped).

    Returns
    -------
    bytes
        The file in format version :data:`FORMAT_VERSION`: header length, canonical
        header, tensors in sorted name order. ``"sha256"`` covers the metadata, the
        tensor layout and the tensor bytes: it detects damage and edits that do not
        recompute it; it is not a signature (anyone can recompute it).

    Raises
    ------
    ModelFileError
        If the tensors or metadata do not describe a valid softmax model, so that a file
        that is written always loads.
    """
    prefix, chunks = _serialise(tensors, metadata)
    return b"".join([prefix, *(chunk.data for chunk in chunks)])


def _json_default(value):
    """``json.dumps`` fallback: NumPy scalars and arrays become Python numbers and lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def save(path, tensors, metadata):
    """Write a model file atomically (the bytes of :func:`dumps`).

    The file is written by :func:`softmax_classifier._atomic.atomic_write`: to a
    temporary file beside ``path``, flushed, fsynced and renamed over it, so readers
    (and a process killed at any moment) see the old file or the new one, never a
    partial one; temporaries left by killed writers are removed by the next write in
    that directory. The tensors are written straight from their arrays, without a
    second copy of the model in memory.

    Parameters
    ----------
    path : str or os.PathLike
        Destination: a regular file (replaced) or a new name in an existing directory.
    tensors, metadata
        As for :func:`dumps`.

    Raises
    ------
    ModelFileError
        If the model is invalid (nothing is written).
    softmax_classifier._atomic.OutputPathError
        If ``path`` is a symbolic link, directory, device, FIFO or socket, or its
        directory does not exist (nothing is written).
    OSError
        If the file cannot be written (the old file, if any, is untouched).
    """
    prefix, chunks = _serialise(tensors, metadata)
    with atomic_write(path, "wb") as file:
        file.write(prefix)
        for chunk in chunks:
            file.write(chunk.data)


# -- reading -----------------------------------------------------------------------------


def load(path):
    """Read and validate a model file.

    The file's size is checked first, then its header is read and checked, and only then
    are the tensors read (into their arrays, without a second copy). A non-regular file
    (directory, FIFO, device) is refused without blocking.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    tensors : dict of str to ndarray
        As for :func:`loads`.
    metadata : dict

    Raises
    ------
    ModelFileError
        If the file is missing, unreadable, larger than :data:`MAX_FILE_BYTES`, changed
        while being read, or invalid in any way (see :func:`loads`); the message names
        the path.
    """
    path = os.fspath(path)
    shown = os.fsdecode(path)
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
        with open(fd, "rb") as file:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ModelFileError(f"cannot read model file {shown!r}: not a regular file")
            try:
                return _read_model(file, info.st_size)
            except ModelFileError as error:
                raise ModelFileError(f"invalid model file {shown!r}: {error}") from error
    except OSError as error:
        reason = error.strerror or str(error)
        raise ModelFileError(f"cannot read model file {shown!r}: {reason}") from error


def loads(data):
    """Parse and validate the bytes of a model file.

    Parameters
    ----------
    data : bytes, bytearray or memoryview

    Returns
    -------
    tensors : dict of str to ndarray
        Writable, native-byte-order arrays of their own: ``coef (n_classes,
        n_features)`` and ``intercept (n_classes,)`` float32 or float64, and, if the
        model standardises its input, ``feature_mean (n_features,)`` and
        ``feature_scale (n_features,)`` float64.
    metadata : dict
        The parsed JSON metadata, checked by :func:`validate_softmax_model`; unknown keys
        are kept. ``metadata["format_version"]`` tells which format the file has.

    Raises
    ------
    ModelFileError
        For anything malformed, truncated, oversized, tampered with or incompatible,
        with a one-line message saying what is wrong. No other exception escapes for any
        input bytes. For a version-2 file any change of any byte is refused (see the
        module docstring for what the hash does and does not prove).
    TypeError
        If ``data`` is not bytes-like.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"model data must be bytes, got {type(data).__name__}")
    if not isinstance(data, bytes):
        data = memoryview(data).tobytes()  # one copy; io.BytesIO shares a bytes object
    return _read_model(io.BytesIO(data), len(data))


def _read_exactly(file, size, what):
    data = file.read(size)
    if len(data) != size:
        raise ModelFileError(
            f"the file ended after {len(data)} of the {size} bytes of the {what} "
            "(truncated, or changed while being read)"
        )
    return data


def _read_model(file, size):
    """Read a model from a binary file positioned at its start; ``size`` is its length."""
    if size > MAX_FILE_BYTES:
        raise ModelFileError(
            f"model data is {size} bytes, larger than the limit of {MAX_FILE_BYTES} bytes"
        )
    if size < 8:
        raise ModelFileError(
            f"file is too short to be a model file ({size} bytes; it must start with an "
            "8-byte header length)"
        )
    header_len = int.from_bytes(_read_exactly(file, 8, "header length"), "little")
    if header_len == 0:
        raise ModelFileError("header length is zero (not a model file)")
    if header_len > MAX_HEADER_BYTES:
        raise ModelFileError(
            f"header length {header_len} exceeds the limit of {MAX_HEADER_BYTES} bytes "
            "(not a model file?)"
        )
    if header_len > size - 8:
        raise ModelFileError(
            f"header length {header_len} is longer than the {size - 8} bytes after it "
            "(truncated file?)"
        )
    raw = _read_exactly(file, header_len, "header")
    header = _parse_json(raw, "header")
    if not isinstance(header, dict):
        raise ModelFileError(f"header is a JSON {_json_type(header)}, not an object")
    metadata, version = _read_metadata(header)
    buffer_len = size - 8 - header_len
    entries = _read_tensor_entries(header, buffer_len)
    _check_layout(entries, buffer_len)
    specs = {name: (_DTYPES[entry[0]][1], entry[1]) for name, entry in entries.items()}
    _check_schema(specs, metadata)
    hash_key = _HASH_KEYS[version]
    digest = hashlib.sha256()
    if version >= 2:
        _check_canonical(raw, header, metadata, entries)
        del raw
        unhashed = {key: value for key, value in header["__metadata__"].items()}
        unhashed[_METADATA_KEY] = _metadata_text(
            {key: value for key, value in metadata.items() if key != "sha256"}
        )
        for piece in _header_pieces(unhashed, entries):
            digest.update(piece.encode("ascii"))
        del unhashed
    del header

    stored_arrays = {}
    for name in sorted(entries, key=lambda n: entries[n][2]):  # file order
        code, shape, begin, end = entries[name]
        flat = np.empty((end - begin) // _DTYPES[code][0].itemsize, dtype=_DTYPES[code][0])
        _read_into(file, flat.view(np.uint8), f"tensor {_short(name)}")
        if version >= 2:
            digest.update(flat.view(np.uint8).data)
        stored_arrays[name] = flat
    if file.read(1):
        raise ModelFileError("the file grew while being read")
    if version == 1:  # the tensors' bytes in sorted name order
        for name in sorted(stored_arrays):
            digest.update(stored_arrays[name].view(np.uint8).data)
    if digest.hexdigest() != metadata[hash_key]:
        raise ModelFileError(
            f"the file does not match its SHA-256 (metadata {hash_key!r}): it was damaged, "
            "or edited after it was written"
        )
    tensors = {}
    for name in sorted(stored_arrays):
        code, shape, _, _ = entries[name]
        # A view when the stored (little-endian) dtype is native, else a converted copy.
        tensors[name] = stored_arrays[name].astype(_DTYPES[code][1], copy=False).reshape(shape)
    _check_tensor_values(tensors)
    return tensors, metadata


def _read_into(file, buffer, what):
    """Fill the writable uint8 array ``buffer`` from ``file``."""
    view = memoryview(buffer)
    filled = 0
    while filled < len(view):
        count = file.readinto(view[filled:])
        if not count:
            raise ModelFileError(
                f"the file ended after {filled} of the {len(view)} bytes of {what} "
                "(truncated, or changed while being read)"
            )
        filled += count


def _check_canonical(raw, header, metadata, entries):
    """Check that a version-2 header is byte for byte the canonical one."""
    text = header["__metadata__"][_METADATA_KEY]
    canonical = text == _metadata_text(metadata)
    view, position = memoryview(raw), 0
    for piece in _header_pieces(header["__metadata__"], entries) if canonical else ():
        chunk = piece.encode("ascii")
        if view[position : position + len(chunk)] != chunk:
            canonical = False
            break
        position += len(chunk)
    else:
        padding = view[position:]
        canonical = canonical and len(padding) == -position % _HEADER_ALIGN
        canonical = canonical and padding == b" " * len(padding)
    if not canonical:
        raise ModelFileError(
            "the header is not exactly as softmax-classifier writes it (format version 2 "
            "headers are canonical): the file was edited or damaged"
        )


def _json_type(value):
    """The JSON name of a parsed value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class _Rejected(ValueError):
    """Raised by the JSON hooks; turned into ModelFileError by :func:`_parse_json`."""


def _object_pairs(pairs):
    result = dict(pairs)
    if len(result) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise _Rejected(f"duplicate key {_short(key)}")
            seen.add(key)
    return result


def _parse_int(text):
    if len(text) > _MAX_INT_CHARS:
        raise _Rejected(f"integer with {len(text)} characters is too large")
    return int(text)


def _parse_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise _Rejected(f"number {_short(text)} is out of range")
    return value


def _parse_constant(text):
    raise _Rejected(f"{text} is not allowed")


def _parse_json(raw, what):
    """Strict JSON: UTF-8, no duplicate keys, no NaN/Infinity, no huge numbers, and at
    most ``_MAX_CONTAINERS`` objects and arrays (which bounds the memory of parsing to a
    small multiple of the text's length: every other value takes a few characters).

    Parameters
    ----------
    raw : bytes or str
    what : str
        What is parsed, for messages.
    """
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ModelFileError(
                f"{what} is not valid UTF-8 ({error.reason} at byte {error.start})"
            ) from None
    else:
        text = raw
    if text.count("{") + text.count("[") > _MAX_CONTAINERS:
        # Brackets inside strings (feature names such as "x[0]") do not count.
        outside = _JSON_STRING.sub("", text)
        containers = outside.count("{") + outside.count("[")
        del outside
        if containers > _MAX_CONTAINERS:
            raise ModelFileError(
                f"{what} JSON has {containers} objects and arrays, more than the limit of "
                f"{_MAX_CONTAINERS} (a model needs a few dozen)"
            )
    decoder = json.JSONDecoder(
        object_pairs_hook=_object_pairs,
        parse_int=_parse_int,
        parse_float=_parse_float,
        parse_constant=_parse_constant,
    )
    try:
        value = decoder.decode(text)
    except _Rejected as error:
        raise ModelFileError(f"{what} JSON is not acceptable: {error}") from None
    except RecursionError:
        raise ModelFileError(f"{what} JSON is nested too deeply") from None
    except (ValueError, MemoryError) as error:
        raise ModelFileError(f"{what} is not valid JSON: {error}") from None
    if "\\ud" in text or "\\uD" in text:
        try:
            # Lone surrogates (from \\ud800 escapes) are not Unicode; safetensors refuses them.
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ModelFileError(
                f"{what} JSON contains an invalid \\u escape (lone surrogate)"
            ) from None
        except RecursionError:  # pragma: no cover - the parser refuses deeper nesting first
            raise ModelFileError(f"{what} JSON is nested too deeply") from None
    return value


def _parse_metadata_text(text):
    metadata = _parse_json(text, "metadata")
    if not isinstance(metadata, dict):
        raise ModelFileError(f"metadata is a JSON {_json_type(metadata)}, not an object")
    return metadata


def _read_metadata(header):
    """``(metadata, format_version)`` of a parsed header, with format and version checked."""
    if "__metadata__" not in header:
        raise ModelFileError("not a softmax-classifier model file: the header has no __metadata__")
    raw = header["__metadata__"]
    if not isinstance(raw, dict):
        raise ModelFileError(f"header __metadata__ is a JSON {_json_type(raw)}, not an object")
    for key, value in raw.items():
        if not isinstance(value, str):
            raise ModelFileError(
                f"header __metadata__ entry {_short(key)} is a JSON {_json_type(value)}, "
                "not a string"
            )
    if _METADATA_KEY not in raw:
        raise ModelFileError(
            f"not a softmax-classifier model file: the header __metadata__ has no "
            f"{_METADATA_KEY!r} entry"
        )
    metadata = _parse_metadata_text(raw[_METADATA_KEY])
    if "format" not in metadata:
        raise ModelFileError("metadata has no 'format' key")
    if metadata["format"] != FORMAT_NAME:
        raise ModelFileError(
            f"not a softmax-classifier model file: metadata 'format' is "
            f"{_short(metadata['format'])}, expected {FORMAT_NAME!r}"
        )
    if "format_version" not in metadata:
        raise ModelFileError("metadata has no 'format_version' key")
    version = metadata["format_version"]
    if type(version) is not int:
        raise ModelFileError(f"metadata 'format_version' must be an integer, got {_short(version)}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"model file format version {version} was written by a newer version of "
            f"softmax-classifier (this version reads format versions {_VERSIONS_TEXT}); "
            "upgrade softmax-classifier to load it"
        )
    if version not in READ_FORMAT_VERSIONS:
        raise ModelFileError(
            f"unsupported model file format version {version} (this version reads format "
            f"versions {_VERSIONS_TEXT})"
        )
    return metadata, version


def _is_index(value):
    """A JSON integer (not a boolean) that is non-negative."""
    return type(value) is int and value >= 0


def _read_tensor_entries(header, buffer_len):
    """Check each tensor entry of the header; return ``{name: (dtype, shape, begin, end)}``."""
    entries = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        label = f"tensor {_short(name)}"
        if not isinstance(info, dict):
            raise ModelFileError(f"{label}: entry is a JSON {_json_type(info)}, not an object")
        for field in _TENSOR_FIELDS:
            if field not in info:
                raise ModelFileError(f"{label}: entry has no {field!r}")
        for field in info:
            if field not in _TENSOR_FIELDS:
                raise ModelFileError(f"{label}: unknown field {_short(field)}")
        code = info["dtype"]
        if not isinstance(code, str) or code not in _DTYPES:
            raise ModelFileError(
                f"{label}: unsupported dtype {_short(code)} (only 'F32' and 'F64' are allowed)"
            )
        shape = info["shape"]
        if (
            not isinstance(shape, list)
            or len(shape) > _MAX_NDIM
            or not all(_is_index(n) and n <= MAX_FILE_BYTES for n in shape)
        ):
            raise ModelFileError(
                f"{label}: shape must be a list of at most {_MAX_NDIM} non-negative integers, "
                f"got {_short(shape)}"
            )
        # Even an empty tensor must have a shape an array can take (a dimension of 0
        # does not make [0, 2**31, 2**31, 2**31] reasonable).
        if math.prod(n for n in shape if n) > MAX_FILE_BYTES:
            raise ModelFileError(
                f"{label}: shape {_short(shape)} is absurd: its non-zero dimensions "
                f"multiply to more than {MAX_FILE_BYTES}"
            )
        offsets = info["data_offsets"]
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_index, offsets))):
            raise ModelFileError(
                f"{label}: data_offsets must be two non-negative integers, got {_short(offsets)}"
            )
        begin, end = offsets
        if begin > end:
            raise ModelFileError(f"{label}: data_offsets [{begin}, {end}] begin after they end")
        if end > buffer_len:
            raise ModelFileError(
                f"{label}: data_offsets [{begin}, {end}] run past the end of the "
                f"{buffer_len} bytes of tensor data (truncated file?)"
            )
        nbytes = math.prod(shape) * _DTYPES[code][0].itemsize
        if nbytes != end - begin:
            raise ModelFileError(
                f"{label}: shape {shape} of {code} needs {nbytes} bytes but data_offsets "
                f"[{begin}, {end}] hold {end - begin}"
            )
        entries[name] = (code, tuple(shape), begin, end)
    return entries


def _check_layout(entries, buffer_len):
    """The tensors must cover the buffer exactly: no gap, no overlap, no trailing bytes."""
    position = 0
    previous = None
    for begin, end, name in sorted((e[2], e[3], n) for n, e in entries.items()):
        if begin < position:
            raise ModelFileError(
                f"tensors {_short(previous)} and {_short(name)} overlap (data_offsets "
                f"[{begin}, {end}] start before byte {position})"
            )
        if begin > position:
            raise ModelFileError(
                f"gap of {begin - position} byte(s) in the tensor data before tensor {_short(name)}"
            )
        position = end
        previous = name
    if position != buffer_len:
        raise ModelFileError(
            f"{buffer_len - position} trailing byte(s) after the last tensor (the tensors "
            "must cover the data exactly)"
        )


# -- the softmax model's schema ----------------------------------------------------------


def validate_softmax_model(tensors, metadata):
    """Check that tensors and metadata describe a usable softmax model.

    Parameters
    ----------
    tensors : dict of str to ndarray
        Exactly ``coef (c, d)`` with ``c >= 2`` and ``d >= 1``, ``intercept (c,)`` of
        the same dtype (float32 or float64), and optionally ``feature_mean (d,)`` and
        ``feature_scale (d,)`` float64, both or neither, with ``feature_scale > 0``. All
        values finite.
    metadata : dict
        Parsed JSON with (at least) the keys

        - ``"format"`` (``"softmax-classifier"``), ``"format_version"`` (1 or 2),
          ``"library_version"`` (str), and the hash as 64 lowercase hex digits:
          ``"sha256"`` for version 2, ``"tensors_sha256"`` for version 1;
        - ``"classes"``: list of ``c`` distinct values, all of ``"class_type"``:
          ``"int"`` (JSON integers in the int64 range, not booleans), ``"float"``
          (numbers), ``"str"`` (strings without NUL) or ``"bool"`` (booleans);
        - ``"n_features"``: ``d``; ``"feature_names"``: null or ``d`` distinct strings;
        - ``"dtype"``: ``"float32"`` or ``"float64"``, the dtype of ``coef``;
        - ``"preprocessing"``: object with booleans ``"standardize"`` (true exactly when
          the standardisation tensors are present) and ``"center"``;
        - ``"hyperparameters"``: object; ``"fit_report"``: object or null.

        Other keys are allowed. The hash itself is not recomputed here (it needs the
        file's bytes; :func:`loads` checks it).

    Raises
    ------
    ModelFileError
        Naming the first problem found.
    """
    if not isinstance(tensors, Mapping):
        raise ModelFileError(f"tensors must be a dict, got {type(tensors).__name__}")
    if not isinstance(metadata, Mapping):
        raise ModelFileError(f"metadata must be a dict, got {type(metadata).__name__}")
    for name, array in tensors.items():
        if not isinstance(array, np.ndarray) or array.dtype not in _DTYPE_NAMES:
            raise ModelFileError(f"tensor {_short(name)} must be a float32 or float64 array")
    _check_schema({name: (a.dtype, a.shape) for name, a in tensors.items()}, metadata)
    _check_tensor_values(tensors)


def _check_tensor_values(tensors):
    """Every value finite, and ``feature_scale`` positive."""
    for name, array in tensors.items():
        if not np.isfinite(array).all():
            raise ModelFileError(
                f"tensor {_short(name)} contains non-finite values (NaN or infinity)"
            )
    scale = tensors.get("feature_scale")
    if scale is not None and not (scale > 0).all():
        raise ModelFileError("'feature_scale' must be positive everywhere")


def _check_schema(specs, metadata, *, check_hash=True):
    """The schema of :func:`validate_softmax_model`, on ``{name: (dtype, shape)}``.

    Everything but the tensors' values, so that it runs before they are read.
    """
    for name in ("coef", "intercept"):
        if name not in specs:
            raise ModelFileError(f"model has no {name!r} tensor")
    extra = sorted(set(specs) - _TENSOR_NAMES, key=str)
    if extra:
        raise ModelFileError(f"unexpected tensor {_short(extra[0])} in a softmax model")
    (coef_dtype, coef_shape), (intercept_dtype, intercept_shape) = specs["coef"], specs["intercept"]
    if len(coef_shape) != 2:
        raise ModelFileError(
            f"'coef' must be 2-D (n_classes, n_features), got shape {tuple(coef_shape)}"
        )
    n_classes, n_features = coef_shape
    if n_classes < 2:
        raise ModelFileError(f"a softmax model needs at least 2 classes, 'coef' has {n_classes}")
    if n_features < 1:
        raise ModelFileError("a softmax model needs at least 1 feature, 'coef' has 0 columns")
    if tuple(intercept_shape) != (n_classes,):
        raise ModelFileError(
            f"'intercept' must have shape ({n_classes},) to match 'coef', got "
            f"{tuple(intercept_shape)}"
        )
    if intercept_dtype != coef_dtype:
        raise ModelFileError(
            f"'intercept' is {_NUMPY_NAMES[intercept_dtype]} but 'coef' is "
            f"{_NUMPY_NAMES[coef_dtype]}; they must match"
        )
    standardized = "feature_mean" in specs or "feature_scale" in specs
    if standardized:
        for name in ("feature_mean", "feature_scale"):
            if name not in specs:
                raise ModelFileError(
                    f"model has {'feature_scale' if name == 'feature_mean' else 'feature_mean'}"
                    f" but no {name!r} tensor (both or neither)"
                )
            dtype, shape = specs[name]
            if tuple(shape) != (n_features,) or dtype != np.float64:
                raise ModelFileError(
                    f"{name!r} must be float64 of shape ({n_features},), got "
                    f"{_NUMPY_NAMES[dtype]} of shape {tuple(shape)}"
                )

    for key in _REQUIRED_METADATA:
        if key not in metadata:
            raise ModelFileError(f"metadata has no {key!r} key")
    if metadata["format"] != FORMAT_NAME:
        raise ModelFileError(f"metadata 'format' must be {FORMAT_NAME!r}")
    version = metadata["format_version"]
    if type(version) is not int or version not in READ_FORMAT_VERSIONS:
        raise ModelFileError(f"metadata 'format_version' must be one of {_VERSIONS_TEXT}")
    library_version = metadata["library_version"]
    if not isinstance(library_version, str):
        raise ModelFileError(
            f"metadata 'library_version' must be a string, got {_short(library_version)}"
        )
    if check_hash:
        key = _HASH_KEYS[version]
        if key not in metadata:
            raise ModelFileError(f"metadata {key!r} is missing (format version {version})")
        digest = metadata[key]
        if not isinstance(digest, str):
            raise ModelFileError(f"metadata {key!r} must be a string, got {_short(digest)}")
        if len(digest) != 64 or digest.strip("0123456789abcdef"):
            raise ModelFileError(f"metadata {key!r} is not a hex SHA-256: {_short(digest)}")
    classes = _checked_classes(metadata)
    if len(classes) != n_classes:
        raise ModelFileError(
            f"metadata lists {len(classes)} classes but 'coef' has {n_classes} rows"
        )
    n_features_meta = metadata["n_features"]
    if type(n_features_meta) is not int or n_features_meta != n_features:
        raise ModelFileError(
            f"metadata 'n_features' is {_short(n_features_meta)} but 'coef' has "
            f"{n_features} columns"
        )
    names = metadata["feature_names"]
    if names is not None:
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ModelFileError(
                f"metadata 'feature_names' must be null or a list of strings, got {_short(names)}"
            )
        if len(names) != n_features:
            raise ModelFileError(
                f"metadata 'feature_names' has {len(names)} names for {n_features} features"
            )
        if len(set(names)) != len(names):
            raise ModelFileError("metadata 'feature_names' are not unique")
    expected_dtype = _NUMPY_NAMES[coef_dtype]
    if metadata["dtype"] != expected_dtype:
        raise ModelFileError(
            f"metadata 'dtype' is {_short(metadata['dtype'])} but 'coef' is {expected_dtype}"
        )
    preprocessing = metadata["preprocessing"]
    if not isinstance(preprocessing, dict):
        raise ModelFileError(
            f"metadata 'preprocessing' must be an object, got {_short(preprocessing)}"
        )
    for key in ("standardize", "center"):
        if not isinstance(preprocessing.get(key), bool):
            raise ModelFileError(f"metadata 'preprocessing' needs a boolean {key!r}")
    if preprocessing["standardize"] and not standardized:
        raise ModelFileError(
            "metadata says the model standardizes its input but the file has no "
            "'feature_mean'/'feature_scale' tensors"
        )
    if standardized and not preprocessing["standardize"]:
        raise ModelFileError(
            "the file has 'feature_mean'/'feature_scale' tensors but metadata says the model "
            "does not standardize its input"
        )
    hyperparameters, report = metadata["hyperparameters"], metadata["fit_report"]
    if not isinstance(hyperparameters, dict):
        raise ModelFileError(
            f"metadata 'hyperparameters' must be an object, got {_short(hyperparameters)}"
        )
    if report is not None and not isinstance(report, dict):
        raise ModelFileError(
            f"metadata 'fit_report' must be an object or null, got {_short(report)}"
        )


def _class_value_ok(value, class_type):
    """Whether one class label is a JSON value of ``class_type`` (ints within int64)."""
    if class_type == "int":
        return type(value) is int and -_MAX_CLASS_INT - 1 <= value <= _MAX_CLASS_INT
    if class_type == "float":
        return type(value) in (int, float) and math.isfinite(value)
    if class_type == "str":
        return isinstance(value, str) and "\x00" not in value
    return type(value) is bool


def _checked_classes(metadata):
    """The metadata's classes list after checking type, class_type, length and uniqueness."""
    for key in ("classes", "class_type"):
        if key not in metadata:
            raise ModelFileError(f"metadata has no {key!r} key")
    classes, class_type = metadata["classes"], metadata["class_type"]
    if not isinstance(class_type, str) or class_type not in _CLASS_TYPES:
        raise ModelFileError(
            f"metadata 'class_type' must be one of 'int', 'float', 'str', 'bool', got "
            f"{_short(class_type)}"
        )
    if not isinstance(classes, list):
        raise ModelFileError(f"metadata 'classes' must be a list, got {_short(classes)}")
    if len(classes) < 2:
        raise ModelFileError(
            f"a softmax model needs at least 2 classes, metadata lists {len(classes)}"
        )
    for value in classes:
        if not _class_value_ok(value, class_type):
            raise ModelFileError(f"class {_short(value)} is not of class_type {class_type!r}")
    if len(set(classes)) != len(classes):
        raise ModelFileError("metadata 'classes' are not unique")
    return classes


def restore_classes(metadata):
    """The classes of a model's metadata as a NumPy array of their type.

    Parameters
    ----------
    metadata : dict
        With ``"classes"`` and ``"class_type"`` as described in
        :func:`validate_softmax_model`.

    Returns
    -------
    ndarray of shape (n_classes,)
        int64 for ``"int"``, float64 for ``"float"``, unicode (``<U``) for ``"str"``,
        bool for ``"bool"``.

    Raises
    ------
    ModelFileError
        If the classes or class type are invalid.

    Examples
    --------
    >>> restore_classes({"classes": [3, 1, 2], "class_type": "int"})
    array([3, 1, 2])
    """
    if not isinstance(metadata, Mapping):
        raise ModelFileError(f"metadata must be a dict, got {type(metadata).__name__}")
    classes = _checked_classes(metadata)
    return np.array(classes, dtype=_CLASS_TYPES[metadata["class_type"]])
