"""CSV files: read whole, or parsed a block of whole lines at a time.

A file without a header line has its columns named ``"1"``, ``"2"``, ...
(counted from 1, as ``cut -f`` counts them). For streaming, :func:`open_csv`
reads the header and the first MiB of rows (the column names, the types
pyarrow infers, the mean line length), :func:`block_types` fixes the types
every block is parsed with, and :func:`parse_block` parses one block of lines.
A value cannot hold a newline (as in pyarrow's default).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import partial

import pyarrow as pa
import pyarrow.csv as pa_csv

from softmax_classifier.io.columns import first_text
from softmax_classifier.io.errors import reading
from softmax_classifier.io.text import SAMPLE_BYTES, mean_line_bytes, open_binary

__all__ = ["CsvHead", "block_types", "column_names", "open_csv", "parse_block", "read_table"]


def column_names(n_columns):
    """The names of the columns of a CSV file without a header: ``"1"``, ``"2"``, ...

    Counted from 1, as ``cut -f`` counts fields.

    Parameters
    ----------
    n_columns : int

    Returns
    -------
    list of str of length n_columns

    Examples
    --------
    >>> column_names(3)
    ['1', '2', '3']
    """
    return [str(j + 1) for j in range(n_columns)]


def read_table(path, header):
    """A whole CSV file as a table, its types inferred by pyarrow.

    Parameters
    ----------
    path : str
        Maybe compressed (``.gz``, ``.bz2``).
    header : bool
        Whether the first line names the columns (else see :func:`column_names`).

    Returns
    -------
    pyarrow.Table
        n_samples rows, one column per field; empty values are nulls.
    """
    with reading(path):
        table = pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(autogenerate_column_names=not header),
            convert_options=pa_csv.ConvertOptions(strings_can_be_null=True),
        )
    if not header:
        table = table.rename_columns(column_names(table.num_columns))
    return table


@dataclass
class CsvHead:
    """What the start of a CSV file tells: its columns, types and line length.

    Attributes
    ----------
    header_line : bytes
        The header line as read (with its newline), ``b""`` without a header.
    names : list of str
        Every column's name.
    line_bytes : float
        The mean length of the sampled data lines.
    schema : pyarrow.Schema
        The types pyarrow infers from the sample (null columns when it holds
        no row).
    text_hint : callable
        ``text_hint(columns) -> str``, see
        :func:`softmax_classifier.io.columns.first_text`, on the sample.
    """

    header_line: bytes
    names: list
    line_bytes: float
    schema: pa.Schema
    text_hint: object


def open_csv(path, header):
    """The header and the first MiB of rows of a CSV file, as a :class:`CsvHead`.

    Parameters
    ----------
    path : str
        Maybe compressed (``.gz``, ``.bz2``).
    header : bool
        Whether the first line names the columns.

    Returns
    -------
    CsvHead

    Raises
    ------
    DataFileError
        For a file that cannot be read or parsed.
    """
    with reading(path), open_binary(path) as f:
        header_line = f.readline() if header else b""
        sample = f.read(SAMPLE_BYTES)
        if sample and not sample.endswith(b"\n"):
            sample += f.readline()
    with reading(path):
        if header:
            names = pa_csv.read_csv(io.BytesIO(header_line + b"\n")).schema.names
        else:
            first = pa_csv.read_csv(
                io.BytesIO(sample),
                read_options=pa_csv.ReadOptions(autogenerate_column_names=True),
            )
            names = column_names(first.num_columns)
        if sample.strip():
            table = parse_block(sample, names, None, None)
        else:  # no data rows: reported by the first pass
            table = pa.table({name: pa.nulls(0) for name in set(names)})
    return CsvHead(
        header_line=header_line,
        names=names,
        line_bytes=mean_line_bytes(sample),
        schema=table.schema,
        text_hint=partial(first_text, table),
    )


def block_types(schema, features, target, weight_column=None):
    """The types every CSV block is parsed with: float64 features, the target's own.

    Features and weights are read as float64 whatever the first block looked
    like (a column of whole numbers may hold 1.5 further down); the target
    keeps the type inferred from the first block (text if empty).

    Parameters
    ----------
    schema : pyarrow.Schema
        As :func:`open_csv` inferred it.
    features : list of str of length n_features
    target : str
    weight_column : str or None, default=None

    Returns
    -------
    dict of str to pyarrow.DataType
    """
    types = dict.fromkeys(features, pa.float64())
    if weight_column is not None:
        types[weight_column] = pa.float64()
    target_type = schema.field(target).type
    types[target] = pa.string() if pa.types.is_null(target_type) else target_type
    return types


def parse_block(text, names, columns, column_types):
    """One block of CSV lines (bytes, no header) as a table.

    Parameters
    ----------
    text : bytes
        Whole lines.
    names : list of str
        Every column's name, in file order.
    columns : list of str or None
        The columns kept, in this order; None for all.
    column_types : dict of str to pyarrow.DataType or None
        Types to parse with (see :func:`block_types`); None to infer them.

    Returns
    -------
    pyarrow.Table
        One row per non-blank line.
    """
    return pa_csv.read_csv(
        io.BytesIO(text),
        read_options=pa_csv.ReadOptions(column_names=names, use_threads=True),
        convert_options=pa_csv.ConvertOptions(
            include_columns=columns,
            column_types=column_types,
            strings_can_be_null=True,
        ),
    )
