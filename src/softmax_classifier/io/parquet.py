"""Parquet files and directories of them: opened, read whole or a few rows at a time."""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.dataset as pa_ds
import pyarrow.parquet as pq

from softmax_classifier.io.columns import Rows
from softmax_classifier.io.errors import DataFileError, reading

__all__ = [
    "PARQUET_BUFFER_BYTES",
    "file_rows",
    "index_columns",
    "iter_batches",
    "open_dataset",
    "read_table",
    "row_groups",
]

#: Bytes each Parquet column reader buffers (8 KiB x 1,000 columns = 8 MiB).
PARQUET_BUFFER_BYTES = 2**13


def open_dataset(path):
    """A Parquet file, or a directory of them (in the order of their names), as a dataset.

    Parameters
    ----------
    path : str

    Returns
    -------
    pyarrow.dataset.Dataset

    Raises
    ------
    DataFileError
        For a path that cannot be read, or a directory without Parquet files.
    """
    with reading(path):
        dataset = pa_ds.dataset(path, format="parquet")
    if not dataset.files:
        raise DataFileError(f"no Parquet files in directory {path}")
    return dataset


def index_columns(schema):
    """The names of the pandas index columns stored in a Parquet file's ``schema``.

    Parameters
    ----------
    schema : pyarrow.Schema

    Returns
    -------
    set of str
    """
    metadata = schema.pandas_metadata or {}
    return {c for c in metadata.get("index_columns", []) if isinstance(c, str)}


def read_table(path, dataset, columns):
    """The ``columns`` of every file of ``dataset`` as one table, and a row locator.

    Parameters
    ----------
    path : str
        The file or directory as given.
    dataset : pyarrow.dataset.Dataset
        From :func:`open_dataset`.
    columns : list of str

    Returns
    -------
    table : pyarrow.Table
    rows : softmax_classifier.io.columns.Rows
        Names the file and row of a row of ``table``.
    """
    tables, parts = [], []
    with reading(path):
        for fragment in dataset.get_fragments():
            part = fragment.to_table(schema=dataset.schema, columns=columns)
            tables.append(part)
            parts.append((fragment.path, part.num_rows))
        table = pa.concat_tables(tables)
    return table, Rows(path, parts if os.path.isdir(path) else None)


def _parquet_file(path):
    """A Parquet file opened to be read a few rows at a time in little memory.

    ``pre_buffer=True`` (pyarrow's default) keeps every row group read so far;
    without ``buffer_size`` each column's reader holds its whole column chunk
    (for a 1,000-column file, 1,000 chunks). Each column still holds one
    decoded page: a wide file written as one huge row group costs about that
    row group in memory, whatever the block size (see docs/scaling.md).
    """
    return pq.ParquetFile(path, pre_buffer=False, buffer_size=PARQUET_BUFFER_BYTES)


def iter_batches(path, batch_rows, columns, row_groups=None):
    """Record batches of one Parquet file, ``batch_rows`` rows at a time, in little memory.

    Only the batch being decoded is held, and one decoded page per column.

    Parameters
    ----------
    path : str
        One Parquet file.
    batch_rows : int
    columns : list of str
    row_groups : list of int or None, default=None
        The row groups read; None for all, in order.

    Yields
    ------
    pyarrow.Table
        ``batch_rows`` rows or fewer.

    Raises
    ------
    DataFileError
        For a file that cannot be read.
    """
    with reading(path):
        batches = _parquet_file(path).iter_batches(
            batch_size=batch_rows, row_groups=row_groups, columns=columns, use_threads=False
        )
        for batch in batches:
            yield pa.Table.from_batches([batch])


def file_rows(paths):
    """Each Parquet file with its number of rows, from its footer.

    Parameters
    ----------
    paths : list of str

    Returns
    -------
    list of (str, int)
    """
    return [(path, pq.ParquetFile(path).metadata.num_rows) for path in paths]


def row_groups(paths):
    """Every row group of the Parquet files, as ``(path, group)`` in file order.

    Parameters
    ----------
    paths : list of str

    Returns
    -------
    list of (str, int)
    """
    groups = []
    for path in paths:
        n_groups = pq.ParquetFile(path).metadata.num_row_groups
        groups.extend((path, g) for g in range(n_groups))
    return groups
