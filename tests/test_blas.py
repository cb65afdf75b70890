"""The process-wide, re-entrant one-BLAS-thread limit (softmax_classifier._blas)."""

import threading

import numpy as np  # noqa: F401  (loads NumPy's BLAS before threadpoolctl looks)
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from softmax_classifier._blas import one_blas_thread


def blas_threads():
    return [entry["num_threads"] for entry in threadpool_info() if entry["user_api"] == "blas"]


@pytest.fixture
def two_blas_threads():
    if not blas_threads():
        pytest.skip("no BLAS library found by threadpoolctl")
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        yield before
        # Leaving the limit must have restored the counts set on entry.
        assert blas_threads() == before


def test_one_thread_inside_and_the_counts_restored_after(two_blas_threads):
    with one_blas_thread():
        assert set(blas_threads()) == {1}
    assert blas_threads() == two_blas_threads


def test_a_nested_limit_keeps_one_thread_until_the_outermost_leaves(two_blas_threads):
    with one_blas_thread():
        with one_blas_thread():
            assert set(blas_threads()) == {1}
        assert set(blas_threads()) == {1}
    assert blas_threads() == two_blas_threads


def test_an_exception_inside_still_restores_the_counts(two_blas_threads):
    with pytest.raises(RuntimeError), one_blas_thread():
        raise RuntimeError("inside")
    assert blas_threads() == two_blas_threads


def test_a_holder_on_another_thread_leaving_does_not_restore_the_counts(two_blas_threads):
    # Set and read on this thread only: OpenBLAS ignores a thread count set from
    # another thread once the main thread has set one (measured, OpenBLAS 0.3).
    def enter_and_leave():
        with one_blas_thread():
            pass

    with one_blas_thread():
        other = threading.Thread(target=enter_and_leave)
        other.start()
        other.join(10)
        assert set(blas_threads()) == {1}
    assert blas_threads() == two_blas_threads
