"""Strict JSON for model-file headers: parsing with limits, and the canonical text.

A header is untrusted input, so it is parsed strictly: UTF-8, no duplicate keys, no
``NaN``/``Infinity``, no integer longer than 40 digits (``int()`` of a long digit string
is quadratic), no lone surrogate escapes, and at most 512 objects and arrays per document
(which bounds the memory of parsing to a small multiple of the text: every other value
takes a few characters). Anything refused raises :class:`JSONError` with a one-line
message; the codec turns it into its own exception.

Nothing here imports a module or evaluates anything at parse time.
"""

from __future__ import annotations

import json
import math
import re
import reprlib

import numpy as np

__all__ = ["JSONError", "canonical_text", "json_type", "parse_json", "short"]

_MAX_INT_CHARS = 40  # longer JSON integers are refused while parsing (no quadratic int())
_MAX_CONTAINERS = 512  # JSON objects + arrays per document; a model needs a few dozen
# A JSON string literal (with escapes), to blank out strings before counting brackets.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60
_repr.maxlist = _repr.maxdict = _repr.maxtuple = 6
_repr.maxlevel = 3


class JSONError(ValueError):
    """A JSON text that is invalid or not acceptable (the message says which and why)."""


def short(value):
    """``repr(value)``, shortened to a few dozen characters and always one line.

    Parameters
    ----------
    value : object
        Usually a parsed JSON value, shown in a message.

    Returns
    -------
    str
    """
    return _repr.repr(value)


def json_type(value):
    """The JSON name of a parsed value's type, for messages.

    Parameters
    ----------
    value : None, bool, int, float, str, list or dict

    Returns
    -------
    str
        ``"null"``, ``"boolean"``, ``"number"``, ``"string"``, ``"array"`` or ``"object"``.
    """
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


def _json_default(value):
    """``json.dumps`` fallback: NumPy scalars and arrays become Python numbers and lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def canonical_text(value):
    """The canonical JSON text of a value: sorted keys, no spaces, ASCII, finite numbers.

    Parameters
    ----------
    value : dict
        JSON-serialisable; NumPy scalars and arrays are written as Python numbers and
        lists.

    Returns
    -------
    str
        ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
        allow_nan=False)``.

    Raises
    ------
    TypeError, ValueError, RecursionError
        As ``json.dumps`` does for values JSON cannot hold.
    """
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
        default=_json_default,
    )


class _Rejected(ValueError):
    """Raised by the decoder's hooks; turned into :class:`JSONError` by :func:`parse_json`."""


def _object_pairs(pairs):
    result = dict(pairs)
    if len(result) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise _Rejected(f"duplicate key {short(key)}")
            seen.add(key)
    return result


def _parse_int(text):
    if len(text) > _MAX_INT_CHARS:
        raise _Rejected(f"integer with {len(text)} characters is too large")
    return int(text)


def _parse_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise _Rejected(f"number {short(text)} is out of range")
    return value


def _parse_constant(text):
    raise _Rejected(f"{text} is not allowed")


def _decoded(raw, what):
    """The text of ``raw`` (bytes are decoded as strict UTF-8)."""
    if not isinstance(raw, bytes):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise JSONError(
            f"{what} is not valid UTF-8 ({error.reason} at byte {error.start})"
        ) from None


def parse_json(raw, what):
    """Parse strict JSON (see the module docstring for what is refused).

    Parameters
    ----------
    raw : bytes or str
        Bytes are decoded as UTF-8.
    what : str
        What is parsed (``"header"``, ``"metadata"``), the start of every message.

    Returns
    -------
    None, bool, int, float, str, list or dict
        The parsed value.

    Raises
    ------
    JSONError
        If the text is not valid UTF-8 or JSON, or not acceptable.
    """
    text = _decoded(raw, what)
    if text.count("{") + text.count("[") > _MAX_CONTAINERS:
        # Brackets inside strings (feature names such as "x[0]") do not count.
        outside = _JSON_STRING.sub("", text)
        containers = outside.count("{") + outside.count("[")
        del outside
        if containers > _MAX_CONTAINERS:
            raise JSONError(
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
        raise JSONError(f"{what} JSON is not acceptable: {error}") from None
    except RecursionError:
        raise JSONError(f"{what} JSON is nested too deeply") from None
    except (ValueError, MemoryError) as error:
        raise JSONError(f"{what} is not valid JSON: {error}") from None
    if "\\ud" in text or "\\uD" in text:
        try:
            # Lone surrogates (from \\ud800 escapes) are not Unicode; safetensors refuses them.
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise JSONError(
                f"{what} JSON contains an invalid \\u escape (lone surrogate)"
            ) from None
        except RecursionError:  # pragma: no cover - the parser refuses deeper nesting first
            raise JSONError(f"{what} JSON is nested too deeply") from None
    return value
