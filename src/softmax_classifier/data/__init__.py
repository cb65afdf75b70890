"""Data sources: where rows come from, independent of the model and the solver.

Every source implements :class:`DataSource`: ``n_samples``, ``n_features``,
``dtype``, the classes and their totals, ``reduce(block_fn, *args)`` (sum a
block function over row blocks), ``batches(batch_size, rng)`` (one epoch of
shuffled mini-batches), ``labelled_blocks()`` (rows with their labels, for
scoring) and ``transformed(...)`` (standardised, class-weighted rows).
:func:`as_source` opens one for any input:

- :class:`InMemoryData` walks arrays held in memory;
- :class:`StreamingData` reads Parquet, CSV or LIBSVM files batch by batch,
  for data larger than memory;
- :class:`DaskData` keeps rows on a Dask cluster and evaluates blocks there.

The statistics every fit needs (:func:`mean_and_scale`,
:func:`per_class_weights`) are computed through ``reduce``, the same way for
every source.
"""

from softmax_classifier.data._factory import as_source, is_dask_collection
from softmax_classifier.data._protocol import DataSource
from softmax_classifier.data._statistics import mean_and_scale, per_class_weights
from softmax_classifier.data.dask import DaskData, DaskFitError
from softmax_classifier.data.memory import InMemoryData
from softmax_classifier.data.stream import StreamingData

__all__ = [
    "DaskData",
    "DaskFitError",
    "DataSource",
    "InMemoryData",
    "StreamingData",
    "as_source",
    "is_dask_collection",
    "mean_and_scale",
    "per_class_weights",
]
