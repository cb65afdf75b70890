"""Model files: tensors and JSON metadata to bytes and back, validated and hashed whole.

A model file is one `safetensors <https://huggingface.co/docs/safetensors>`_ file,
written and read by the small code in this package (the ``safetensors`` package is not
needed; files written here load with it). The package has two halves:

- the codec (``_codec`` writes, ``_reader`` reads, ``_json`` parses strictly): float
  tensors and a versioned JSON metadata object <-> bytes, every size checked before it
  is read, hashed whole; it knows nothing of softmax models;
- the schema (:mod:`softmax_classifier.model_file.schema`): what a softmax model's
  tensors and metadata must be, the metadata keys (written once, for writer and
  validator), class labels, and :class:`ModelContents` for the estimator, saved and
  loaded by :func:`save_model` and :func:`load_model`.

The layout:

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

from softmax_classifier.model_file._codec import MAX_FILE_BYTES, MAX_HEADER_BYTES, ModelFileError
from softmax_classifier.model_file._files import dumps, load, load_model, loads, save, save_model
from softmax_classifier.model_file.schema import (
    FORMAT_NAME,
    FORMAT_VERSION,
    READ_FORMAT_VERSIONS,
    ModelContents,
    classes_to_json,
    jsonable_params,
    restore_classes,
    validate_softmax_model,
)

# Shown (tracebacks, repr) and pickled under the name users import it by.
ModelFileError.__module__ = __name__

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MAX_FILE_BYTES",
    "MAX_HEADER_BYTES",
    "READ_FORMAT_VERSIONS",
    "ModelContents",
    "ModelFileError",
    "classes_to_json",
    "dumps",
    "jsonable_params",
    "load",
    "load_model",
    "loads",
    "restore_classes",
    "save",
    "save_model",
    "validate_softmax_model",
]
