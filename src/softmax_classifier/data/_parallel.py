"""Evaluate a block function over a stream of blocks on a few threads, in order.

Shared by the data sources. NumPy, BLAS and SciPy's sparse products release the
GIL, so threads evaluate blocks concurrently; the results come back in block
order, so that their sum does not depend on the number of threads.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from softmax_classifier._blas import one_blas_thread

__all__ = ["add_in_order", "available_cpus", "map_in_order"]


def map_in_order(block_fn, blocks, args, n_threads):
    """Yield ``block_fn(*block, *args)`` for each block of ``blocks``, in block order.

    At most one block per thread is in flight (``blocks`` is consumed lazily),
    which bounds the memory held by blocks and their temporaries. BLAS runs
    one thread meanwhile: the parallelism is across blocks (and for a single
    small block, waking BLAS threads for every small product costs more than
    it gives).

    Parameters
    ----------
    block_fn : callable
    blocks : iterable of tuple
    args : tuple
        Passed to every call after the block.
    n_threads : int
    """
    with one_blas_thread():
        if n_threads == 1:
            for block in blocks:
                yield block_fn(*block, *args)
            return
        pool = _executor(n_threads)
        pending = deque()
        for block in blocks:
            pending.append(pool.submit(block_fn, *block, *args))
            if len(pending) >= n_threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def add_in_order(results):
    """Element-wise sum of a sequence of tuples (``None`` entries stay ``None``).

    Returns
    -------
    tuple
    """
    total = None
    for part in results:
        if total is None:
            total = list(part)
        else:
            for i, value in enumerate(part):
                if value is not None:
                    total[i] += value
    if total is None:
        raise ValueError("no blocks to add up: the data source has no rows")
    return tuple(total)


def available_cpus():
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_EXECUTORS = {}


def _executor(n_threads):
    """One shared pool per thread count, created on first use."""
    if n_threads not in _EXECUTORS:
        _EXECUTORS[n_threads] = ThreadPoolExecutor(n_threads, thread_name_prefix="softmax-block")
    return _EXECUTORS[n_threads]
