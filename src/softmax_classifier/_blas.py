"""Run BLAS on one thread for a while: cheaply, and nested without cost.

The library limits BLAS to one thread around work that is parallel already
(blocks on the data source's threads) or too small to share (products of a
few million multiply-adds, where waking a second BLAS thread costs more than
it gives, and a busy neighbour on the other core made such calls up to 50x
slower: ``PERFORMANCE_NOTES.md``). Those limits are taken once per pass, and a
small fit makes hundreds of passes, so their cost matters:
``threadpoolctl``'s ``limit`` takes about 30 microseconds, more than the pass
on a small data set. Here the BLAS libraries are found once, the outermost
limit reads and sets their thread counts (a few microseconds) and restores
them on exit, and a limit taken inside another costs a counter increment.

The thread count of a BLAS library is process-wide, so the limit is too: while
any thread holds it, BLAS runs one thread for everyone, and the counts are
restored when the last holder leaves.
"""

from __future__ import annotations

import threading

from threadpoolctl import ThreadpoolController

__all__ = ["one_blas_thread"]


class _OneBlasThread:
    """The process-wide, re-entrant limit behind :func:`one_blas_thread`."""

    def __init__(self):
        self._lock = threading.Lock()
        self._holders = 0
        self._saved = []
        self._libraries = None

    def _blas_libraries(self):
        # Built on first use, when NumPy's BLAS (and SciPy's, once imported) is
        # loaded: finding the libraries takes milliseconds.
        if self._libraries is None:
            controller = ThreadpoolController().select(user_api="blas")
            self._libraries = list(controller.lib_controllers)
        return self._libraries

    def __enter__(self):
        with self._lock:
            if self._holders == 0:
                self._saved = []
                for library in self._blas_libraries():
                    threads = library.get_num_threads()
                    if threads != 1:
                        library.set_num_threads(1)
                        self._saved.append((library, threads))
            self._holders += 1
        return self

    def __exit__(self, *exc_info):
        with self._lock:
            self._holders -= 1
            if self._holders == 0:
                for library, threads in self._saved:
                    library.set_num_threads(threads)
                self._saved = []
        return False


_LIMIT = _OneBlasThread()


def one_blas_thread():
    """A context in which BLAS runs one thread (re-entrant, process-wide).

    Returns
    -------
    context manager

    Examples
    --------
    >>> import numpy as np
    >>> from softmax_classifier._blas import one_blas_thread
    >>> with one_blas_thread():
    ...     product = np.ones((3, 4)) @ np.ones((4, 2))
    >>> product.shape
    (3, 2)
    """
    return _LIMIT
