"""Model files: tensors and JSON metadata to bytes and back, validated.

A model file is one `safetensors <https://huggingface.co/docs/safetensors>`_ file,
written and read by the small code in this module (the ``safetensors`` package is not
needed; files it writes load here and files written here load with it):

=============  ==============================================================
bytes          content
=============  ==============================================================
``0 .. 8``     ``N``, the header length, unsigned 64-bit little-endian
``8 .. 8+N``   the header: a UTF-8 JSON object, padded with spaces to a
               multiple of 8 bytes
``8+N ..``     the tensor buffer: each tensor little-endian, C-order,
               contiguous; together they cover the buffer exactly
=============  ==============================================================

The header maps each tensor name to ``{"dtype": "F32" | "F64", "shape": [...],
"data_offsets": [begin, end]}`` (offsets relative to the buffer start) and holds
``{"__metadata__": {"softmax_classifier": "<metadata as a JSON string>"}}``. Written
here, tensors are stored in sorted name order. The metadata carries ``"format":
"softmax-classifier"``, ``"format_version": 1`` and ``"tensors_sha256"``, the hex
SHA-256 of the tensors' bytes taken in sorted name order (for a file written here,
simply the SHA-256 of the buffer).

Loading parses numbers and JSON only: nothing in a file is unpickled, imported or
evaluated, and no module is imported while loading. :func:`loads` checks
everything (sizes before reading, header length, UTF-8, strict JSON without
duplicate keys, non-finite numbers or huge integers, dtypes, shapes, offsets and
the exact tiling of the buffer, format name and version, the SHA-256, finiteness
of every tensor, and the softmax-model schema of :func:`validate_softmax_model`)
and raises :class:`ModelFileError`, with a one-line message, for anything wrong.
The SHA-256 detects corruption and careless edits; it is not a signature.

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
('softmax-classifier', 1)
>>> model_file.restore_classes(meta)
array(['cat', 'dog'], dtype='<U3')
>>> model_file.loads(data[:-1])  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
softmax_classifier.model_file.ModelFileError: tensor 'intercept': data_offsets [32, 48] run past ...
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import reprlib
import stat
from collections.abc import Mapping

import numpy as np

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MAX_FILE_BYTES",
    "MAX_HEADER_BYTES",
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

FORMAT_VERSION = 1
"""The format version written, and the only one read, by this version."""

MAX_FILE_BYTES = 2**31
"""Larger files are refused before they are read."""

MAX_HEADER_BYTES = 2**24
"""Largest header length accepted (16 MiB)."""

_METADATA_KEY = "softmax_classifier"
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
_MAX_CLASS_INT = 2**63 - 1
_HEADER_ALIGN = 8

_TENSOR_NAMES = {"coef", "intercept", "feature_mean", "feature_scale"}
_CLASS_TYPES = {"int": np.int64, "float": np.float64, "str": np.str_, "bool": np.bool_}
_REQUIRED_METADATA = (
    "format",
    "format_version",
    "library_version",
    "tensors_sha256",
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
        ``"format"``, ``"format_version"`` and ``"tensors_sha256"``, which are added here
        (and replace any given).

    Returns
    -------
    bytes
        The file: header length, header, tensors in sorted name order.

    Raises
    ------
    ModelFileError
        If the tensors or metadata do not describe a valid softmax model, so that a file
        that is written always loads.
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
        array = np.ascontiguousarray(value, dtype=native)
        if not np.isfinite(array).all():
            raise ModelFileError(f"tensor {name!r} contains non-finite values (NaN or infinity)")
        arrays[name] = array

    names = sorted(arrays)
    chunks = [
        arrays[name].astype(_DTYPES[_DTYPE_NAMES[arrays[name].dtype]][0], copy=False).tobytes()
        for name in names
    ]
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    meta = dict(metadata)
    meta["format"] = FORMAT_NAME
    meta["format_version"] = FORMAT_VERSION
    meta["tensors_sha256"] = digest.hexdigest()
    try:
        meta_text = json.dumps(
            meta, sort_keys=True, allow_nan=False, separators=(",", ":"), default=_json_default
        )
    except (TypeError, ValueError, RecursionError) as error:
        raise ModelFileError(f"metadata cannot be written as JSON: {error}") from None
    # Validate what a reader will see: the metadata after its JSON round trip.
    validate_softmax_model(arrays, _parse_metadata_text(meta_text))

    header = {"__metadata__": {_METADATA_KEY: meta_text}}
    offset = 0
    for name, chunk in zip(names, chunks, strict=True):
        header[name] = {
            "dtype": _DTYPE_NAMES[arrays[name].dtype],
            "shape": list(arrays[name].shape),
            "data_offsets": [offset, offset + len(chunk)],
        }
        offset += len(chunk)
    header_bytes = json.dumps(header, separators=(",", ":")).encode("ascii")
    header_bytes += b" " * (-len(header_bytes) % _HEADER_ALIGN)
    return b"".join([len(header_bytes).to_bytes(8, "little"), header_bytes, *chunks])


def _json_default(value):
    """``json.dumps`` fallback: NumPy scalars and arrays become Python numbers and lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def save(path, tensors, metadata):
    """Write a model file atomically.

    The bytes of :func:`dumps` go to a new temporary file in the destination's directory,
    which is flushed, fsynced and then renamed over ``path`` with :func:`os.replace`:
    readers see the old file or the new one, never a partial one, and an interrupted
    write leaves no temporary file behind.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; an existing file is replaced.
    tensors, metadata
        As for :func:`dumps`.

    Raises
    ------
    ModelFileError
        If the model is invalid (nothing is written).
    OSError
        If the file cannot be written.
    """
    data = dumps(tensors, metadata)
    path = os.fsdecode(os.fspath(path))
    directory, base = os.path.split(os.path.abspath(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temp = os.path.join(directory, f".{base}.{os.urandom(6).hex()}.tmp")
        try:
            fd = os.open(temp, flags, 0o666)  # the process umask applies, as for open()
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 100 collisions of 48 random bits
        raise FileExistsError(f"cannot create a temporary file next to {path!r}")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    # Make the rename itself durable (POSIX); not possible everywhere, so best effort.
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


# -- reading -----------------------------------------------------------------------------


def load(path):
    """Read and validate a model file.

    The file's size is checked before it is read; a non-regular file (directory, FIFO,
    device) is refused without blocking.

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
        If the file is missing, unreadable, larger than :data:`MAX_FILE_BYTES`, or
        invalid in any way (see :func:`loads`); the message names the path.
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
            if info.st_size > MAX_FILE_BYTES:
                raise ModelFileError(
                    f"model file {shown!r} is {info.st_size} bytes, larger than the limit of "
                    f"{MAX_FILE_BYTES} bytes"
                )
            data = file.read(info.st_size + 1)  # one more byte to notice a growing file
    except OSError as error:
        reason = error.strerror or str(error)
        raise ModelFileError(f"cannot read model file {shown!r}: {reason}") from error
    try:
        return loads(data)
    except ModelFileError as error:
        raise ModelFileError(f"invalid model file {shown!r}: {error}") from error


def loads(data):
    """Parse and validate the bytes of a model file.

    Parameters
    ----------
    data : bytes, bytearray or memoryview

    Returns
    -------
    tensors : dict of str to ndarray
        Writable, native-byte-order copies: ``coef (n_classes, n_features)`` and
        ``intercept (n_classes,)`` float32 or float64, and, if the model standardises its
        input, ``feature_mean (n_features,)`` and ``feature_scale (n_features,)`` float64.
    metadata : dict
        The parsed JSON metadata, checked by :func:`validate_softmax_model`; unknown keys
        are kept.

    Raises
    ------
    ModelFileError
        For anything malformed, truncated, oversized, tampered with or incompatible,
        with a one-line message saying what is wrong. No other exception escapes for any
        input bytes.
    TypeError
        If ``data`` is not bytes-like.
    """
    if not isinstance(data, bytes):
        if not isinstance(data, bytearray | memoryview):
            raise TypeError(f"model data must be bytes, got {type(data).__name__}")
        data = memoryview(data).tobytes()
    size = len(data)
    if size > MAX_FILE_BYTES:
        raise ModelFileError(
            f"model data is {size} bytes, larger than the limit of {MAX_FILE_BYTES}"
        )
    if size < 8:
        raise ModelFileError(
            f"file is too short to be a model file ({size} bytes; it must start with an "
            "8-byte header length)"
        )
    header_len = int.from_bytes(data[:8], "little")
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
    header = _parse_json(data[8 : 8 + header_len], "header")
    if not isinstance(header, dict):
        raise ModelFileError(f"header is a JSON {_json_type(header)}, not an object")
    metadata = _read_metadata(header)

    start = 8 + header_len
    buffer_len = size - start
    entries = _read_tensor_entries(header, buffer_len)
    _check_layout(entries, buffer_len)

    view = memoryview(data)
    digest = hashlib.sha256()
    for name in sorted(entries):
        _, _, begin, end = entries[name]
        digest.update(view[start + begin : start + end])
    expected = metadata.get("tensors_sha256")
    if not isinstance(expected, str):
        raise ModelFileError(
            "metadata 'tensors_sha256' is missing or not a string"
            if expected is None
            else f"metadata 'tensors_sha256' must be a string, got {_short(expected)}"
        )
    if digest.hexdigest() != expected:
        raise ModelFileError(
            "tensor data does not match the SHA-256 in the metadata "
            "(the file was tampered with or corrupted)"
        )

    tensors = {}
    for name in sorted(entries):
        code, shape, begin, end = entries[name]
        stored, native = _DTYPES[code]
        count = (end - begin) // stored.itemsize
        if count == 0:
            array = np.zeros(shape, dtype=native)
        else:
            flat = np.frombuffer(data, dtype=stored, count=count, offset=start + begin)
            array = flat.astype(native).reshape(shape)  # astype copies: writable, native order
        if not np.isfinite(array).all():
            raise ModelFileError(
                f"tensor {_short(name)} contains non-finite values (NaN or infinity)"
            )
        tensors[name] = array
    validate_softmax_model(tensors, metadata)
    return tensors, metadata


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
    """Strict JSON: UTF-8, no duplicate keys, no NaN/Infinity, no huge numbers.

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
    """The softmax-classifier metadata of a parsed header, with format and version checked."""
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
            f"softmax-classifier (this version reads format version {FORMAT_VERSION}); "
            "upgrade softmax-classifier to load it"
        )
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"unsupported model file format version {version} (this version reads format "
            f"version {FORMAT_VERSION})"
        )
    return metadata


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

        - ``"format"`` (``"softmax-classifier"``), ``"format_version"`` (int),
          ``"library_version"`` (str), ``"tensors_sha256"`` (64 lowercase hex digits);
        - ``"classes"``: list of ``c`` distinct values, all of ``"class_type"``:
          ``"int"`` (JSON integers in the int64 range, not booleans), ``"float"``
          (numbers), ``"str"`` (strings without NUL) or ``"bool"`` (booleans);
        - ``"n_features"``: ``d``; ``"feature_names"``: null or ``d`` distinct strings;
        - ``"dtype"``: ``"float32"`` or ``"float64"``, the dtype of ``coef``;
        - ``"preprocessing"``: object with booleans ``"standardize"`` (true exactly when
          the standardisation tensors are present) and ``"center"``;
        - ``"hyperparameters"``: object; ``"fit_report"``: object or null.

        Other keys are allowed.

    Raises
    ------
    ModelFileError
        Naming the first problem found.
    """
    if not isinstance(tensors, Mapping):
        raise ModelFileError(f"tensors must be a dict, got {type(tensors).__name__}")
    if not isinstance(metadata, Mapping):
        raise ModelFileError(f"metadata must be a dict, got {type(metadata).__name__}")
    for name in ("coef", "intercept"):
        if name not in tensors:
            raise ModelFileError(f"model has no {name!r} tensor")
    extra = sorted(set(tensors) - _TENSOR_NAMES, key=str)
    if extra:
        raise ModelFileError(f"unexpected tensor {_short(extra[0])} in a softmax model")
    for name, array in tensors.items():
        if not isinstance(array, np.ndarray) or array.dtype not in _DTYPE_NAMES:
            raise ModelFileError(f"tensor {name!r} must be a float32 or float64 array")
        if not np.isfinite(array).all():
            raise ModelFileError(f"tensor {name!r} contains non-finite values (NaN or infinity)")
    coef, intercept = tensors["coef"], tensors["intercept"]
    if coef.ndim != 2:
        raise ModelFileError(f"'coef' must be 2-D (n_classes, n_features), got shape {coef.shape}")
    n_classes, n_features = coef.shape
    if n_classes < 2:
        raise ModelFileError(f"a softmax model needs at least 2 classes, 'coef' has {n_classes}")
    if n_features < 1:
        raise ModelFileError("a softmax model needs at least 1 feature, 'coef' has 0 columns")
    if intercept.shape != (n_classes,):
        raise ModelFileError(
            f"'intercept' must have shape ({n_classes},) to match 'coef', got {intercept.shape}"
        )
    if intercept.dtype != coef.dtype:
        raise ModelFileError(
            f"'intercept' is {_NUMPY_NAMES[intercept.dtype]} but 'coef' is "
            f"{_NUMPY_NAMES[coef.dtype]}; they must match"
        )
    standardized = "feature_mean" in tensors or "feature_scale" in tensors
    if standardized:
        for name in ("feature_mean", "feature_scale"):
            if name not in tensors:
                raise ModelFileError(
                    f"model has {'feature_scale' if name == 'feature_mean' else 'feature_mean'}"
                    f" but no {name!r} tensor (both or neither)"
                )
            array = tensors[name]
            if array.shape != (n_features,) or array.dtype != np.float64:
                raise ModelFileError(
                    f"{name!r} must be float64 of shape ({n_features},), got "
                    f"{_NUMPY_NAMES[array.dtype]} of shape {array.shape}"
                )
        if not (tensors["feature_scale"] > 0).all():
            raise ModelFileError("'feature_scale' must be positive everywhere")

    for key in _REQUIRED_METADATA:
        if key not in metadata:
            raise ModelFileError(f"metadata has no {key!r} key")
    if metadata["format"] != FORMAT_NAME:
        raise ModelFileError(f"metadata 'format' must be {FORMAT_NAME!r}")
    if metadata["format_version"] != FORMAT_VERSION or type(metadata["format_version"]) is not int:
        raise ModelFileError(f"metadata 'format_version' must be {FORMAT_VERSION}")
    for key in ("library_version", "tensors_sha256"):
        if not isinstance(metadata[key], str):
            raise ModelFileError(f"metadata {key!r} must be a string, got {_short(metadata[key])}")
    digest = metadata["tensors_sha256"]
    if len(digest) != 64 or digest.strip("0123456789abcdef"):
        raise ModelFileError(f"metadata 'tensors_sha256' is not a hex SHA-256: {_short(digest)}")
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
    expected_dtype = _NUMPY_NAMES[coef.dtype]
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
