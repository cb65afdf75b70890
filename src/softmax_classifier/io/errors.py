"""The one error of the file readers, and the pieces of its messages.

Every problem with a data file is one :class:`DataFileError` whose message is
one line naming the file and, where they are known, the column and the row.
:func:`reading` turns what the libraries underneath raise (NumPy, pyarrow,
scikit-learn's LIBSVM parser, zip and zlib) into that error.

This module needs only the standard library: the CLI imports it to answer
``--help`` without loading NumPy or pyarrow.
"""

from __future__ import annotations

import sys
import zlib
from contextlib import contextmanager

__all__ = [
    "MAX_LISTED",
    "DataFileError",
    "describe_bytes",
    "did_you_mean",
    "listing",
    "not_found",
    "one_line",
    "reading",
]

MAX_LISTED = 20  # column names listed in a message before "... (N more)"
_MAX_REASON = 300  # characters of a library's own message kept in ours


class DataFileError(ValueError):
    """A data file that cannot be used as asked.

    The message is one line naming the problem: the file and, where they are
    known, the column and the row.

    Parameters
    ----------
    message : str
    row : int or None, keyword-only
        For a bad value or label: its row, counted from 0 over all the data's
        rows (a data source restates the problem in its own words with it).
    problem : {"value", "label", "weight"} or None, keyword-only
        What is bad in that row: a missing, NaN or infinite feature value or
        weight, or a missing label.
    """

    def __init__(self, message, *, row=None, problem=None):
        super().__init__(message)
        self.row = row
        self.problem = problem


def one_line(text, limit=_MAX_REASON):
    """``text`` with its whitespace collapsed, cut to about ``limit`` characters.

    Parameters
    ----------
    text : object
        Anything with a ``str``.
    limit : int, default=300
        The most characters returned.

    Returns
    -------
    str

    Examples
    --------
    >>> one_line("a\\n   b", 10), one_line("x" * 20, 10)
    ('a b', 'xxxxxxx...')
    """
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def listing(names):
    """``"a, b, c"``, cut after :data:`MAX_LISTED` names.

    Parameters
    ----------
    names : iterable of object of length n_names

    Returns
    -------
    str
        ``"(none)"`` when there are no names.

    Examples
    --------
    >>> listing(["a", "b"]), listing([]), listing(range(22))[-16:]
    ('a, b', '(none)', '19, ... (2 more)')
    """
    names = [str(name) for name in names]
    shown = ", ".join(names[:MAX_LISTED])
    if len(names) > MAX_LISTED:
        shown += f", ... ({len(names) - MAX_LISTED} more)"
    return shown or "(none)"


def did_you_mean(name, names):
    """``" (did you mean 'x'?)"`` for the closest of ``names`` to ``name``, or ``""``.

    Parameters
    ----------
    name : str
        A name asked for and not found.
    names : sequence of str of length n_names
        The names there are.

    Returns
    -------
    str

    Examples
    --------
    >>> did_you_mean("lable", ["label", "x"]), did_you_mean("Id", ["id"])
    (" (did you mean 'label'?)", " (did you mean 'id'?)")
    >>> did_you_mean("q", ["x"])
    ''
    """
    import difflib

    close = difflib.get_close_matches(str(name), [str(n) for n in names], n=1, cutoff=0.6)
    if not close:  # e.g. a case slip in a short name: "Id" for "id"
        lowered = {str(n).lower(): str(n) for n in names}
        close = [lowered[str(name).lower()]] if str(name).lower() in lowered else []
    return f" (did you mean {close[0]!r}?)" if close else ""


def not_found(kind, missing, names, path, hint=""):
    """The message for columns asked for but absent, with a did-you-mean per name.

    Parameters
    ----------
    kind : str
        What was asked for: ``"feature columns"``, ``"columns to drop"``...
    missing : list of str of length n_missing
        The names not found (five are shown).
    names : sequence of str of length n_names
        The columns of the file.
    path : str
    hint : str, default=""
        Appended to the message.

    Returns
    -------
    str

    Examples
    --------
    >>> not_found("feature columns", ["wdth"], ["width", "y"], "a.csv")
    "feature columns not found in a.csv: wdth (did you mean 'width'?); columns are: width, y"
    """
    shown = ", ".join(f"{name}{did_you_mean(name, names)}" for name in missing[:5])
    if len(missing) > 5:
        shown += f", ... ({len(missing) - 5} more)"
    return f"{kind} not found in {path}: {shown}; columns are: {listing(names)}{hint}"


def describe_bytes(n):
    """``n`` bytes for a person: 386 bytes, 2.18 TiB...

    Parameters
    ----------
    n : int

    Returns
    -------
    str

    Examples
    --------
    >>> describe_bytes(386), describe_bytes(3 * 2**20), describe_bytes(2.4e12)
    ('386 bytes', '3 MiB', '2.18 TiB')
    """
    n = int(n)
    if n < 1024:
        return f"{n} bytes"
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        n /= 1024
        if n < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
    return f"{n} bytes"  # pragma: no cover


def _library_errors():
    """The errors of a damaged zip archive and of pyarrow, for the libraries loaded.

    Only a loaded module can raise its errors, so this module need not load them.
    """
    errors = []
    if (zipfile := sys.modules.get("zipfile")) is not None:
        errors.append(zipfile.BadZipFile)
    if (arrow := sys.modules.get("pyarrow")) is not None:
        errors.append(arrow.ArrowException)
    return tuple(errors)


@contextmanager
def reading(path):
    """Turn the errors libraries raise for a bad file into one-line DataFileErrors.

    Parameters
    ----------
    path : str
        The file named in the message.

    Raises
    ------
    DataFileError
        For an OSError (the system's reason), or a ValueError, TypeError,
        NotImplementedError, EOFError, KeyError, zlib or zip error, or pyarrow
        error raised inside the block (the library's message, on one line).
        A DataFileError or MemoryError passes unchanged.

    Examples
    --------
    >>> with reading("a.csv"):
    ...     open("/no/such/file")
    Traceback (most recent call last):
    ...
    softmax_classifier.io.errors.DataFileError: cannot read a.csv: No such file or directory
    """
    try:
        yield
    except (DataFileError, MemoryError):
        raise
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise DataFileError(f"cannot read {path}: {one_line(reason)}") from exc
    except (
        ValueError,
        TypeError,
        NotImplementedError,
        EOFError,
        KeyError,
        zlib.error,
        *_library_errors(),
    ) as exc:
        reason = str(exc) or type(exc).__name__
        raise DataFileError(f"cannot read {path}: {one_line(reason)}") from exc
