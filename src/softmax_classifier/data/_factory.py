"""``as_source``: one way to open a data source, whatever holds the rows."""

from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp

from softmax_classifier.data._checks import check_rows, check_sample_weight
from softmax_classifier.data._protocol import DataSource

__all__ = ["as_source", "is_dask_collection"]


def as_source(
    X,
    y=None,
    sample_weight=None,
    *,
    target=None,
    features=None,
    format=None,
    n_features=None,
    dtype=None,
    client=None,
    feature_names=None,
    target_name=None,
    classes=None,
    **read_options,
):
    """Open the rows of ``X`` (and ``y``, ``sample_weight``) as a data source.

    Parameters
    ----------
    X : array-like, sparse matrix, dask collection, path or DataSource
        - an array or sparse matrix of shape (n_samples, n_features), with the
          labels ``y`` (any type) and optional ``sample_weight``: an
          :class:`~softmax_classifier.data.InMemoryData` (values, labels and
          weights checked; float32 kept, other dtypes become float64);
        - a ``dask.array`` or ``dask.dataframe`` with ``y`` (and
          ``sample_weight``) of the same kind: a
          :class:`~softmax_classifier.data.DaskData`;
        - a path (str or os.PathLike) of a Parquet file or directory, a CSV or
          a LIBSVM file: a :class:`~softmax_classifier.data.StreamingData`
          read batch by batch, or, with ``client``, a ``DaskData`` whose
          workers read the file (Parquet and CSV);
        - a data source: returned as it is.
    y : array-like of shape (n_samples,) or None
        Labels; None for paths and sources (they bring their own).
    sample_weight : array-like of shape (n_samples,) or None
    target : str or None
        Paths: the label column (Parquet, CSV; LIBSVM lines carry their labels
        and ignore it).
    features : list of str or None
        Paths: the feature columns, in order (default: all but the target).
    format : {"parquet", "csv", "libsvm"} or None
        Paths: the file format; by default from the name.
    n_features : int or None
        Paths: the number of features expected (a LIBSVM file is read this
        wide).
    dtype : {None, numpy.float32, numpy.float64}
        dtype of the blocks; by default float32 input stays float32 and
        everything else becomes float64 (files: float64).
    client : distributed.Client or None
        Dask collections and paths: the cluster whose workers hold the rows.
    feature_names : sequence of str or None
        Arrays: the names of the columns.
    target_name : str or None
        Arrays: the name of the label column.
    classes : array-like of shape (n_classes,) or None
        Arrays: every label the model knows (``partial_fit``), when ``y`` may
        lack some; by default the distinct labels of ``y``.
    **read_options
        Paths read here: further options of
        :class:`~softmax_classifier.data.StreamingData` (``block_bytes``,
        ``block_rows``, ``header``, ``drop``, ``zero_based``, ...).

    Returns
    -------
    DataSource

    Raises
    ------
    ValueError
        For bad values, labels or weights (one message each, naming the row),
        labels beside a source that brings its own, or a file the workers
        cannot read.

    Examples
    --------
    >>> import numpy as np
    >>> source = as_source(np.eye(3), ["b", "a", "b"], feature_names=["x", "y", "z"])
    >>> source.classes, source.class_counts, source.shape
    (array(['a', 'b'], dtype='<U1'), array([1., 2.]), (3, 3))
    """
    if isinstance(X, DataSource):
        if y is not None or sample_weight is not None:
            raise ValueError(
                "A data source (StreamingData, DaskData, ...) brings its own labels and "
                "weights: pass y=None and sample_weight=None."
            )
        return X
    if isinstance(X, (str, os.PathLike)):
        if y is not None or sample_weight is not None:
            raise ValueError("A file brings its own labels: pass y=None and sample_weight=None.")
        if client is not None:
            return _dask_file(X, target, features, format, n_features, dtype, client)
        from softmax_classifier.data.stream import StreamingData
        from softmax_classifier.io import detect_format

        libsvm = (format or detect_format(os.fspath(X))) == "libsvm"
        options = dict(read_options)
        if dtype is not None:
            options["dtype"] = dtype
        return StreamingData(
            X,
            None if libsvm else target,
            features,
            format=format,
            n_features=n_features,
            **options,
        )
    if is_dask_collection(X):
        from softmax_classifier.data.dask import DaskData

        return DaskData(X, y, sample_weight, client=client, dtype=dtype)
    for_files = {"target": target, "features": features, "format": format, "n_features": n_features}
    given = sorted(
        [name for name, value in for_files.items() if value is not None] + [*read_options]
    )
    if given or client is not None:
        raise ValueError(
            f"options for files and Dask ({', '.join(given or ['client'])}) do not apply to "
            "arrays: arrays take their labels as y and their column names as feature_names."
        )
    return _in_memory(X, y, sample_weight, dtype, feature_names, target_name, classes)


def is_dask_collection(X):
    """Whether ``X`` is a Dask array or dataframe (without importing Dask).

    Parameters
    ----------
    X : object

    Returns
    -------
    bool
    """
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "to_delayed")


def _in_memory(X, y, sample_weight, dtype, feature_names, target_name, classes):
    from softmax_classifier.data.memory import InMemoryData

    if y is None:
        raise ValueError(
            "y is required with arrays: the labels (only files, Dask collections and data "
            "sources bring their own)."
        )
    if dtype is None:
        dtype = np.float32 if getattr(X, "dtype", None) == np.float32 else np.float64
    X = sp.csr_matrix(X, dtype=dtype) if sp.issparse(X) else np.asarray(X, dtype=dtype)
    y = np.asarray(y)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"X of shape {X.shape} and y of shape {y.shape} do not line up.")
    weights = None if sample_weight is None else check_sample_weight(sample_weight, X.shape[0])
    check_rows(X, y, weights)
    if classes is None:
        try:
            classes, y_index = np.unique(y, return_inverse=True)
        except TypeError:  # labels that cannot be ordered together, e.g. 1 and "a"
            kinds = sorted({type(label).__name__ for label in y.tolist()})
            raise ValueError(
                f"y mixes labels of types that cannot be sorted together ({', '.join(kinds)}): "
                "give every label the same type."
            ) from None
    else:
        classes = np.asarray(classes)
        unknown = np.setdiff1d(y, classes)
        if unknown.size:
            raise ValueError(f"y contains labels not in classes: {unknown[:5]!r}.")
        y_index = np.searchsorted(classes, y)
    return InMemoryData(
        X,
        y_index,
        weights,
        classes=classes,
        feature_names=None if feature_names is None else [str(n) for n in feature_names],
        target_name=target_name,
    )


def _dask_file(path, target, features, format, n_features, dtype, client):
    """A ``DaskData`` of a Parquet or CSV file (or directory) read by the cluster's workers."""
    import dask.dataframe as dd

    from softmax_classifier.data.dask import DaskData
    from softmax_classifier.io import detect_format

    path = os.fspath(path)
    format = format or detect_format(path)
    if format not in ("parquet", "csv"):
        raise ValueError(
            f"the workers read the data: {path} must be Parquet (a file or a directory) "
            f"or CSV, not {format}"
        )
    if target is None:
        raise ValueError("target is required: the label column")
    frame = dd.read_parquet(path) if format == "parquet" else dd.read_csv(path)
    columns = [str(c) for c in frame.columns]
    if features is None:
        features = [c for c in columns if c != target]
    missing = [c for c in [target, *features] if c not in columns]
    if missing:
        raise ValueError(f"{path} has no column {missing[0]!r}; it has {columns}")
    if n_features is not None and len(features) != n_features:
        raise ValueError(f"{path} has {len(features)} features; expected {n_features}")
    return DaskData(frame[features], frame[target], client=client, dtype=dtype)
