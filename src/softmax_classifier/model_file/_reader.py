"""The reader half of the codec: a file's bytes -> checked tensors and metadata.

Every size is checked before it is read: the file's, then the header's length; the
header is parsed (strict JSON) and checked whole (format and version, tensor entries,
the exact tiling of the buffer, the format's own checks, the canonical form) before a
single tensor byte is read; then the tensors are read straight into their arrays and
the hash and values are checked. Nothing is imported, unpickled or evaluated.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import stat

import numpy as np

from softmax_classifier.model_file import _codec
from softmax_classifier.model_file._codec import DTYPES, MAX_FILE_BYTES, ModelFileError
from softmax_classifier.model_file._json import canonical_text, json_type, short

__all__ = ["load", "loads"]

_TENSOR_FIELDS = ("dtype", "shape", "data_offsets")
_MAX_NDIM = 32


def load(path, file_format):
    """Read and check a file of ``file_format`` from ``path``: ``(tensors, metadata)``.

    Parameters
    ----------
    path : str or os.PathLike
    file_format : FileFormat

    Returns
    -------
    tensors : dict of str to ndarray
    metadata : dict

    Raises
    ------
    ModelFileError
        If the file is missing, unreadable, not a regular file, larger than
        :data:`MAX_FILE_BYTES`, changed while being read or invalid; the message names the
        path.
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
                return _read_file(file, info.st_size, file_format)
            except ModelFileError as error:
                raise ModelFileError(f"invalid model file {shown!r}: {error}") from error
    except OSError as error:
        reason = error.strerror or str(error)
        raise ModelFileError(f"cannot read model file {shown!r}: {reason}") from error


def loads(data, file_format):
    """Read and check the bytes of a file of ``file_format``: ``(tensors, metadata)``.

    Parameters
    ----------
    data : bytes, bytearray or memoryview
    file_format : FileFormat

    Returns
    -------
    tensors : dict of str to ndarray
        Writable, native-byte-order arrays of their own.
    metadata : dict

    Raises
    ------
    ModelFileError
        For any bytes that are not a valid file of the format.
    TypeError
        If ``data`` is not bytes-like.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"model data must be bytes, got {type(data).__name__}")
    if not isinstance(data, bytes):
        data = memoryview(data).tobytes()  # one copy; io.BytesIO shares a bytes object
    return _read_file(io.BytesIO(data), len(data), file_format)


def _read_exactly(file, size, what):
    data = file.read(size)
    if len(data) != size:
        raise ModelFileError(
            f"the file ended after {len(data)} of the {size} bytes of the {what} "
            "(truncated, or changed while being read)"
        )
    return data


def _read_header(file, size):
    """``(raw, header)``: the header's bytes and its parsed JSON object, sizes checked first."""
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
    if header_len > _codec.MAX_HEADER_BYTES:
        raise ModelFileError(
            f"header length {header_len} exceeds the limit of {_codec.MAX_HEADER_BYTES} bytes "
            "(not a model file?)"
        )
    if header_len > size - 8:
        raise ModelFileError(
            f"header length {header_len} is longer than the {size - 8} bytes after it "
            "(truncated file?)"
        )
    raw = _read_exactly(file, header_len, "header")
    return raw, _codec.parse_object(raw, "header")


def _read_file(file, size, file_format):
    """Read a file positioned at its start; ``size`` is its length."""
    raw, header = _read_header(file, size)
    metadata, version = _read_metadata(header, file_format)
    buffer_len = size - 8 - len(raw)
    entries = _read_tensor_entries(header, buffer_len)
    _check_layout(entries, buffer_len)
    specs = {name: (DTYPES[entry[0]][1], entry[1]) for name, entry in entries.items()}
    file_format.check_header(specs, metadata, True)
    hash_key = file_format.hash_keys[version]
    whole = version >= file_format.canonical_since
    digest = hashlib.sha256()
    if whole:
        _check_canonical(raw, header, metadata, entries, file_format, version)
        del raw
        unhashed = dict(header["__metadata__"])
        unhashed[file_format.entry] = canonical_text(
            {key: value for key, value in metadata.items() if key != hash_key}
        )
        for piece in _codec.header_pieces(unhashed, entries):
            digest.update(piece.encode("ascii"))
        del unhashed
    del header

    stored_arrays = {}
    for name in sorted(entries, key=lambda n: entries[n][2]):  # file order
        code, shape, begin, end = entries[name]
        flat = np.empty((end - begin) // DTYPES[code][0].itemsize, dtype=DTYPES[code][0])
        _read_into(file, flat.view(np.uint8), f"tensor {short(name)}")
        if whole:
            digest.update(flat.view(np.uint8).data)
        stored_arrays[name] = flat
    if file.read(1):
        raise ModelFileError("the file grew while being read")
    if not whole:  # the tensors' bytes in sorted name order
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
        tensors[name] = stored_arrays[name].astype(DTYPES[code][1], copy=False).reshape(shape)
    _codec.check_finite(tensors)
    file_format.check_values(tensors)
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


def _check_canonical(raw, header, metadata, entries, file_format, version):
    """Check that a header is byte for byte the canonical one."""
    text = header["__metadata__"][file_format.entry]
    canonical = text == canonical_text(metadata)
    view, position = memoryview(raw), 0
    for piece in _codec.header_pieces(header["__metadata__"], entries) if canonical else ():
        chunk = piece.encode("ascii")
        if view[position : position + len(chunk)] != chunk:
            canonical = False
            break
        position += len(chunk)
    else:
        padding = view[position:]
        canonical = canonical and len(padding) == -position % _codec.HEADER_ALIGN
        canonical = canonical and padding == b" " * len(padding)
    if not canonical:
        raise ModelFileError(
            f"the header is not exactly as {file_format.name} writes it (format version "
            f"{version} headers are canonical): the file was edited or damaged"
        )


def _read_metadata(header, file_format):
    """``(metadata, format_version)`` of a parsed header, with format and version checked."""
    name = file_format.name
    if "__metadata__" not in header:
        raise ModelFileError(f"not a {name} model file: the header has no __metadata__")
    raw = header["__metadata__"]
    if not isinstance(raw, dict):
        raise ModelFileError(f"header __metadata__ is a JSON {json_type(raw)}, not an object")
    for key, value in raw.items():
        if not isinstance(value, str):
            raise ModelFileError(
                f"header __metadata__ entry {short(key)} is a JSON {json_type(value)}, not a string"
            )
    if file_format.entry not in raw:
        raise ModelFileError(
            f"not a {name} model file: the header __metadata__ has no {file_format.entry!r} entry"
        )
    metadata = _codec.parse_object(raw[file_format.entry], "metadata")
    if "format" not in metadata:
        raise ModelFileError("metadata has no 'format' key")
    if metadata["format"] != name:
        raise ModelFileError(
            f"not a {name} model file: metadata 'format' is "
            f"{short(metadata['format'])}, expected {name!r}"
        )
    if "format_version" not in metadata:
        raise ModelFileError("metadata has no 'format_version' key")
    version = metadata["format_version"]
    if type(version) is not int:
        raise ModelFileError(f"metadata 'format_version' must be an integer, got {short(version)}")
    if version > file_format.version:
        raise ModelFileError(
            f"model file format version {version} was written by a newer version of "
            f"{name} (this version reads format versions {file_format.versions_text}); "
            f"upgrade {name} to load it"
        )
    if version not in file_format.read_versions:
        raise ModelFileError(
            f"unsupported model file format version {version} (this version reads format "
            f"versions {file_format.versions_text})"
        )
    return metadata, version


def _is_index(value):
    """A JSON integer (not a boolean) that is non-negative."""
    return type(value) is int and value >= 0


def _checked_shape(label, shape):
    """A tensor entry's shape: a short list of non-negative integers of a sane product."""
    if (
        not isinstance(shape, list)
        or len(shape) > _MAX_NDIM
        or not all(_is_index(n) and n <= MAX_FILE_BYTES for n in shape)
    ):
        raise ModelFileError(
            f"{label}: shape must be a list of at most {_MAX_NDIM} non-negative integers, "
            f"got {short(shape)}"
        )
    # Even an empty tensor must have a shape an array can take (a dimension of 0
    # does not make [0, 2**31, 2**31, 2**31] reasonable).
    if math.prod(n for n in shape if n) > MAX_FILE_BYTES:
        raise ModelFileError(
            f"{label}: shape {short(shape)} is absurd: its non-zero dimensions "
            f"multiply to more than {MAX_FILE_BYTES}"
        )
    return shape


def _read_tensor_entries(header, buffer_len):
    """Check each tensor entry of the header; return ``{name: (dtype, shape, begin, end)}``."""
    entries = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        label = f"tensor {short(name)}"
        if not isinstance(info, dict):
            raise ModelFileError(f"{label}: entry is a JSON {json_type(info)}, not an object")
        for field in _TENSOR_FIELDS:
            if field not in info:
                raise ModelFileError(f"{label}: entry has no {field!r}")
        for field in info:
            if field not in _TENSOR_FIELDS:
                raise ModelFileError(f"{label}: unknown field {short(field)}")
        code = info["dtype"]
        if not isinstance(code, str) or code not in DTYPES:
            raise ModelFileError(
                f"{label}: unsupported dtype {short(code)} (only 'F32' and 'F64' are allowed)"
            )
        shape = _checked_shape(label, info["shape"])
        offsets = info["data_offsets"]
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_index, offsets))):
            raise ModelFileError(
                f"{label}: data_offsets must be two non-negative integers, got {short(offsets)}"
            )
        begin, end = offsets
        if begin > end:
            raise ModelFileError(f"{label}: data_offsets [{begin}, {end}] begin after they end")
        if end > buffer_len:
            raise ModelFileError(
                f"{label}: data_offsets [{begin}, {end}] run past the end of the "
                f"{buffer_len} bytes of tensor data (truncated file?)"
            )
        nbytes = math.prod(shape) * DTYPES[code][0].itemsize
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
                f"tensors {short(previous)} and {short(name)} overlap (data_offsets "
                f"[{begin}, {end}] start before byte {position})"
            )
        if begin > position:
            raise ModelFileError(
                f"gap of {begin - position} byte(s) in the tensor data before tensor {short(name)}"
            )
        position = end
        previous = name
    if position != buffer_len:
        raise ModelFileError(
            f"{buffer_len - position} trailing byte(s) after the last tensor (the tensors "
            "must cover the data exactly)"
        )
