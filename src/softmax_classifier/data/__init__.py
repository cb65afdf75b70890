"""Data sources: where rows come from, independent of the model and the solver.

A data source offers ``n_samples``, ``n_features``, ``dtype``, ``total_weight``,
``reduce(block_fn, *args)`` (sum a block function over row blocks) and
``batches(batch_size, rng)`` (one epoch of shuffled mini-batches).

:class:`InMemoryData` walks arrays held in memory; :class:`StreamingData` reads
Parquet, CSV or LIBSVM files batch by batch, for data larger than memory;
:class:`DaskData` keeps rows on a Dask cluster and evaluates blocks there.
"""

from softmax_classifier.data.dask import DaskData, DaskFitError
from softmax_classifier.data.memory import InMemoryData
from softmax_classifier.data.stream import StreamingData

__all__ = ["DaskData", "DaskFitError", "InMemoryData", "StreamingData"]
