"""Fits on a Dask cluster equal in-memory fits, and survive what clusters do.

The oracle is the in-memory fit of the same rows, itself checked against
scikit-learn in ``test_estimator.py``: full-batch solvers must reach its
objective to 1e-8 relative, mini-batch solvers to the tolerance stated below.
The clusters are real: ``distributed.LocalCluster`` with two worker processes,
and a scheduler and workers started as separate commands (a cluster reached
by address). Faults are made on purpose at a chosen evaluation: a worker
killed with SIGKILL, a block that kills every worker computing it, the
scheduler killed.
"""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
pd = pytest.importorskip("pandas")

from softmax_classifier import SoftmaxClassifier  # noqa: E402
from softmax_classifier.checkpoint import CHECKPOINT_NAME, load  # noqa: E402
from softmax_classifier.data import DaskData, DaskFitError  # noqa: E402

LABELS = np.array(["ant", "bee", "cow"])
# Mini-batch solvers see the rows in another order on Dask (blocks in a random
# order, rows shuffled within each), so they end at another point near the
# optimum: within this relative objective of the in-memory fit.
STOCHASTIC_RTOL = 2e-3
# No test here may hang: a fault that is not turned into an error ends the run.
HANG_LIMIT_S = 240


@pytest.fixture(autouse=True)
def no_hang():
    faulthandler.dump_traceback_later(HANG_LIMIT_S, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def make_rows(seed=0, n=2400, d=6):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 4.0, d) + rng.uniform(-2, 2, d)
    logits = X @ rng.standard_normal((d, 3)) * 0.5
    y = LABELS[np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)]
    return X, y, rng.uniform(0.0, 2.0, n)


@pytest.fixture(scope="module")
def rows():
    return make_rows()


def final_objective(model):
    return model.fit_report_.objective_history[-1]


def assert_same_objective(a, b, rtol=1e-8):
    assert abs(final_objective(a) - final_objective(b)) <= rtol * abs(final_objective(b))


def dask_arrays(X, y, w, row_chunk=800):
    return (
        da.from_array(X, chunks=(row_chunk, X.shape[1] // 2)),  # column chunks are joined
        da.from_array(y, chunks=row_chunk),
        da.from_array(w, chunks=row_chunk),
    )


# ---------------------------------------------------------------------------
# Dask == in memory
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "gd"])
def test_full_batch_solvers_on_dask_arrays_reach_the_in_memory_objective(client, rows, solver):
    X, y, w = rows
    params = {"solver": solver, "tol": 1e-7, "standardize": True}
    if solver == "gd":  # thousands of passes to converge: compare after 60 of them
        params.update(max_iter=60, tol=0.0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "did not converge")
        on_dask = SoftmaxClassifier(**params).fit(*dask_arrays(X, y, w))
        in_memory = SoftmaxClassifier(**params).fit(X, y, sample_weight=w)
    assert on_dask.fit_report_.stop_reason == in_memory.fit_report_.stop_reason
    assert on_dask.n_iter_ == in_memory.n_iter_
    assert_same_objective(on_dask, in_memory)
    np.testing.assert_allclose(on_dask.predict_proba(X), in_memory.predict_proba(X), atol=1e-6)
    assert list(on_dask.classes_) == list(LABELS)


@pytest.mark.parametrize(("solver", "standardize"), [("lbfgs", False), ("newton-cg", True)])
def test_sparse_blocks_reach_the_in_memory_objective(client, solver, standardize):
    rng = np.random.default_rng(1)
    X = sp.random(2000, 40, density=0.1, format="csr", random_state=rng)
    y = rng.integers(0, 4, 2000) + (X[:, :4].toarray() > 0.5) @ np.arange(4) % 4
    X_dask = da.from_array(X, chunks=(450, 40), asarray=False)
    params = {"solver": solver, "tol": 1e-6, "standardize": standardize}
    on_dask = SoftmaxClassifier(**params).fit(X_dask, da.from_array(y, chunks=450))
    in_memory = SoftmaxClassifier(**params).fit(X, y)
    assert_same_objective(on_dask, in_memory)
    if standardize:
        np.testing.assert_allclose(on_dask.feature_scale_, in_memory.feature_scale_, rtol=1e-12)
        assert not on_dask.feature_mean_.any()  # scaled, not centred, as in memory


@pytest.mark.parametrize("class_weight", [None, {"bee": 3.0}])
def test_dataframes_with_string_labels_and_class_weights(client, rows, class_weight):
    X, y, _ = rows
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])]).assign(label=y)
    ddf = dd.from_pandas(frame, npartitions=3)
    params = {"tol": 1e-7, "class_weight": class_weight}
    on_dask = SoftmaxClassifier(**params).fit(ddf.drop(columns="label"), ddf["label"])
    in_memory = SoftmaxClassifier(**params).fit(frame.drop(columns="label"), y)
    assert_same_objective(on_dask, in_memory)
    assert list(on_dask.feature_names_in_) == list(frame.columns[:-1])


def test_float32_blocks_stay_float32(client, rows):
    X, y, w = rows
    X32 = X.astype(np.float32)
    on_dask = SoftmaxClassifier(tol=1e-4).fit(*dask_arrays(X32, y, w))
    in_memory = SoftmaxClassifier(tol=1e-4).fit(X32, y, sample_weight=w)
    assert on_dask.coef_.dtype == np.float32
    assert_same_objective(on_dask, in_memory, rtol=1e-6)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_mini_batch_solvers_reach_the_in_memory_objective_within_tolerance(client, rows, solver):
    X, y, w = rows
    params = {"solver": solver, "max_iter": 30, "random_state": 0, "batch_size": 64}
    with pytest.warns(Warning, match="max_iter"):
        on_dask = SoftmaxClassifier(**params).fit(*dask_arrays(X, y, w))
    with pytest.warns(Warning, match="max_iter"):
        in_memory = SoftmaxClassifier(**params).fit(X, y, sample_weight=w)
    optimum = final_objective(SoftmaxClassifier(tol=1e-8).fit(X, y, sample_weight=w))
    for model in (on_dask, in_memory):
        assert final_objective(model) - optimum <= STOCHASTIC_RTOL * optimum
    assert_same_objective(on_dask, in_memory, rtol=STOCHASTIC_RTOL)


def test_an_epoch_of_batches_covers_every_row_once(client, rows):
    X, y, w = rows
    source = DaskData(*dask_arrays(X, y, w, row_chunk=333))
    batches = list(source.batches(100, np.random.default_rng(0)))
    assert all(len(b[1]) == 100 for b in batches[:-1])
    seen = np.concatenate([b[0] for b in batches])
    assert sorted(map(tuple, seen)) == sorted(map(tuple, X))
    again = list(source.batches(100, np.random.default_rng(0)))
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(batches, again, strict=True))


def test_repeated_fits_are_bit_identical(client, rows):
    X, y, w = rows
    first = SoftmaxClassifier().fit(*dask_arrays(X, y, w))
    second = SoftmaxClassifier().fit(*dask_arrays(X, y, w))
    assert np.array_equal(first.coef_, second.coef_)


def test_predictions_of_dask_input_are_lazy_dask_arrays_equal_to_in_memory(client, rows):
    X, y, w = rows
    model = SoftmaxClassifier().fit(X, y, sample_weight=w)
    X_dask = da.from_array(X, chunks=(700, 3))
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        lazy = getattr(model, method)(X_dask)
        assert isinstance(lazy, da.Array) and lazy.numblocks[0] == 4
        np.testing.assert_array_equal(lazy.compute(), getattr(model, method)(X))
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    named = SoftmaxClassifier().fit(frame, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the partitions keep their column names
        lazy = named.predict_proba(dd.from_pandas(frame, npartitions=3))
        np.testing.assert_array_equal(lazy.compute(), named.predict_proba(frame))
    sparse = sp.csr_matrix(np.where(X > 1, X, 0.0))
    sparse_model = SoftmaxClassifier().fit(sparse, y)
    lazy = sparse_model.predict(da.from_array(sparse, chunks=(1000, 6), asarray=False))
    np.testing.assert_array_equal(lazy.compute(), sparse_model.predict(sparse))


# ---------------------------------------------------------------------------
# Bad input is named
# ---------------------------------------------------------------------------


def test_bad_values_are_reported_with_their_row(client, rows):
    X, y, w = rows
    X = X.copy()
    X[1234, 2] = np.nan
    with pytest.raises(
        ValueError, match=r"NaN or infinite feature value in row 1234 \(block 1, row 434"
    ):
        SoftmaxClassifier().fit(*dask_arrays(X, y, w))
    w = w.copy()
    w[7] = -1.0
    with pytest.raises(ValueError, match="negative or non-finite weight in row 7"):
        SoftmaxClassifier().fit(*dask_arrays(rows[0], y, w))


def test_misaligned_blocks_and_a_single_class_are_refused(client, rows):
    X, y, _ = rows
    # Arrays of known length are lined up by rechunking y; lengths must agree.
    realigned = SoftmaxClassifier().fit(da.from_array(X, chunks=500), da.from_array(y, chunks=700))
    assert_same_objective(realigned, SoftmaxClassifier().fit(X, y))
    with pytest.raises(ValueError, match="X has 2400 rows but y has 2399"):
        SoftmaxClassifier().fit(da.from_array(X, chunks=500), da.from_array(y[1:], chunks=500))
    # Dataframe partitions are lined up by their index, as in pandas.
    frame = dd.from_pandas(pd.DataFrame(X), npartitions=3)
    by_index = SoftmaxClassifier().fit(frame, dd.from_pandas(pd.Series(y), npartitions=2))
    assert_same_objective(by_index, SoftmaxClassifier().fit(X, y))
    with pytest.raises(ValueError, match="at least 2 classes"):
        SoftmaxClassifier().fit(da.from_array(X, chunks=500), da.zeros(len(y), chunks=500))
    with pytest.raises(TypeError, match="must be a dask array too"):
        SoftmaxClassifier().fit(da.from_array(X, chunks=500), y)
    with pytest.raises(TypeError, match="must be a dask series"):
        SoftmaxClassifier().fit(frame, da.from_array(y, chunks=500))


# ---------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------


class KillingAtEvaluation(DaskData):
    """A source that SIGKILLs one worker while its ``kill_at``-th evaluation is in flight.

    ``log`` is shared with the estimator's views of the source (``transformed``).
    """

    kill_at = 3

    def __init__(self, *args, **kwargs):
        self.log = {"evaluations": 0, "killed_pid": None}
        super().__init__(*args, **kwargs)

    def reduce(self, block_fn, *args):
        self.log["evaluations"] += 1
        return super().reduce(block_fn, *args)

    def _gather(self, futures):
        if self.log["evaluations"] == self.kill_at and self.log["killed_pid"] is None:
            pids = self.client.run(os.getpid)  # the blocks' tasks are submitted by now
            self.log["killed_pid"] = pids[sorted(pids)[0]]
            os.kill(self.log["killed_pid"], signal.SIGKILL)
        return super()._gather(futures)


def test_a_worker_killed_mid_fit_costs_time_not_correctness(client, rows):
    X, y, w = rows
    params = {"solver": "lbfgs", "tol": 1e-8, "standardize": True}
    uninterrupted = SoftmaxClassifier(**params).fit(DaskData(*dask_arrays(X, y, w)))
    source = KillingAtEvaluation(*dask_arrays(X, y, w))
    interrupted = SoftmaxClassifier(**params).fit(source)
    assert source.log["killed_pid"] is not None
    assert source.log["evaluations"] > source.kill_at  # the fit went on after the kill
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it
    assert source.log["killed_pid"] not in client.run(os.getpid).values()
    np.testing.assert_array_equal(interrupted.coef_, uninterrupted.coef_)
    np.testing.assert_array_equal(interrupted.intercept_, uninterrupted.intercept_)


def _poisoned(block, flag):
    """The block, unless ``flag`` exists: then the worker computing it dies."""
    if os.path.exists(flag):
        os._exit(1)
    return block


def test_a_block_that_keeps_killing_workers_ends_with_an_error_and_the_checkpoint_intact(
    client, rows, tmp_path
):
    X, y, w = rows
    flag = str(tmp_path / "poison")
    checkpoints = tmp_path / "checkpoints"
    params = {"solver": "lbfgs", "tol": 1e-8, "checkpoint_dir": checkpoints, "checkpoint_every": 1}

    def poison_and_kill_at_iteration_4(info):
        if info.iteration == 4:
            open(flag, "w").close()
            for pid in poisoned_client.run(os.getpid).values():
                os.kill(pid, signal.SIGKILL)  # every block must be computed again

    import dask

    start = time.perf_counter()
    with (
        # Dask gives up on a task at the first worker it kills (the default is 3).
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as poisoned_client,
    ):
        X_dask, y_dask, w_dask = dask_arrays(X, y, w)
        source = DaskData(
            X_dask.map_blocks(_poisoned, flag, dtype=X.dtype),
            y_dask,
            w_dask,
            client=poisoned_client,
        )
        with pytest.raises(DaskFitError) as error:
            SoftmaxClassifier(**params).fit(source, callback=poison_and_kill_at_iteration_4)
    assert time.perf_counter() - start < 120
    message = str(error.value)
    assert "keeps killing workers" in message
    assert f"last checkpoint (iteration 4) is in {checkpoints}" in message

    # The checkpoint is whole: on a healthy cluster the fit resumes from it and
    # ends where an uninterrupted fit does.
    state, _ = load_any(checkpoints)
    assert state["n_iter"] == 4
    resumed = SoftmaxClassifier(**params).fit(*dask_arrays(X, y, w), resume=True)
    uninterrupted = SoftmaxClassifier(**{**params, "checkpoint_dir": None}).fit(
        *dask_arrays(X, y, w)
    )
    assert resumed.n_iter_ == uninterrupted.n_iter_ > 4
    np.testing.assert_array_equal(resumed.coef_, uninterrupted.coef_)


def load_any(directory):
    """A checkpoint's state whatever fit it describes (load() checks the description)."""
    with np.load(directory / CHECKPOINT_NAME) as saved:
        description = json.loads(str(saved["__fit__"]))
    return load(directory, description)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster_by_address():
    """A scheduler and two workers started as commands, as on a real cluster."""
    address = f"tcp://127.0.0.1:{free_port()}"
    # Each in its own process group, so that the workers' children go with them.
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
         "--port", address.rsplit(":", 1)[1], "--dashboard-address", ":0"], **quiet,
    )  # fmt: skip
    workers = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker", address,
         "--nworkers", "2", "--nthreads", "1", "--dashboard-address", ":0"], **quiet,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:  # the scheduler is up when its port answers
            try:
                socket.create_connection(("127.0.0.1", int(address.rsplit(":", 1)[1])), 1).close()
                break
            except OSError:
                if time.monotonic() > deadline or scheduler.poll() is not None:
                    raise
                time.sleep(0.2)
        yield address, scheduler
    finally:
        for process in (workers, scheduler):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()


def test_a_lost_scheduler_ends_the_fit_with_an_error_not_a_hang(rows, tmp_path, cluster_by_address):
    address, scheduler = cluster_by_address
    X, y, w = rows
    checkpoints = tmp_path / "checkpoints"
    params = {"solver": "lbfgs", "tol": 1e-8, "checkpoint_dir": checkpoints, "checkpoint_every": 1}

    def kill_the_scheduler_at_iteration_3(info):
        if info.iteration == 3:
            scheduler.kill()
            scheduler.wait()

    # The client's timeout is also how long it tries to reconnect to a lost scheduler.
    with distributed.Client(address, timeout=5) as client:
        client.wait_for_workers(2, timeout=60)
        start = time.perf_counter()
        with pytest.raises(DaskFitError) as error, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            SoftmaxClassifier(**params).fit(
                *dask_arrays(X, y, w), callback=kill_the_scheduler_at_iteration_3
            )
        waited = time.perf_counter() - start
    message = str(error.value)
    assert "lost the Dask scheduler" in message or "client is closed" in message
    assert f"last checkpoint (iteration 3) is in {checkpoints}" in message
    assert waited < 120
    state, _ = load_any(checkpoints)
    assert state["n_iter"] == 3


# ---------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------


def softmax(*args, timeout=180):
    command = os.path.join(os.path.dirname(sys.executable), "softmax")
    return subprocess.run(
        [command, *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def parquet_rows(rows, tmp_path_factory):
    """The rows as a directory of two Parquet files (what the workers read), and a test file."""
    X, y, _ = rows
    folder = tmp_path_factory.mktemp("dask-cli")
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])]).assign(label=y)
    (folder / "train").mkdir()
    frame.iloc[:1200].to_parquet(folder / "train" / "part-0.parquet")
    frame.iloc[1200:].to_parquet(folder / "train" / "part-1.parquet")
    frame.iloc[:300].to_parquet(folder / "test.parquet")
    return folder


def test_cli_trains_on_a_local_cluster_and_on_a_cluster_by_address(
    rows, parquet_rows, tmp_path, cluster_by_address
):
    X, y, _ = rows
    in_memory = SoftmaxClassifier(standardize=True).fit(X, y)
    address, _ = cluster_by_address
    for how in (["--dask-workers", 2], ["--scheduler", address]):
        output = tmp_path / f"{how[0].strip('-')}.safetensors"
        completed = softmax(
            "train", parquet_rows / "train", "--target", "label", *how,
            "--test", parquet_rows / "test.parquet", "-o", output, "--quiet",
        )  # fmt: skip
        assert completed.returncode == 0, completed.stderr
        assert "on Dask, scheduler tcp://" in completed.stderr
        metrics = json.loads(
            output.with_name(output.stem + "_run").joinpath("metrics.json").read_text()
        )
        assert metrics["train"]["n_samples"] == 2400 and metrics["test"]["n_samples"] == 300
        assert abs(metrics["fit_report"]["objective_history"][-1] - final_objective(in_memory)) <= (
            1e-8 * final_objective(in_memory)
        )
        assert metrics["train"]["accuracy"] == pytest.approx(in_memory.score(X, y), abs=1e-12)


def test_cli_reports_a_lost_scheduler_with_exit_status_3_and_keeps_the_checkpoint(
    parquet_rows, tmp_path, cluster_by_address
):
    address, scheduler = cluster_by_address
    checkpoints = tmp_path / "checkpoints"
    run = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "softmax"), "train",
         str(parquet_rows / "train"), "--target", "label", "--scheduler", address,
         "--solver", "gd", "--tol", "0", "--max-iter", "100000", "--dask-timeout", "5",
         "--checkpoint-dir", str(checkpoints), "--checkpoint-every", "1",
         "-o", str(tmp_path / "m.safetensors"), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (checkpoints / CHECKPOINT_NAME).exists():
        assert run.poll() is None and time.monotonic() < deadline, run.stderr.read()
        time.sleep(0.1)
    scheduler.kill()
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 3, stderr
    assert "softmax: error: the Dask cluster failed: lost the Dask scheduler" in stderr
    assert "The last checkpoint (iteration " in stderr and str(checkpoints) in stderr
    state, _ = load_any(checkpoints)
    assert state["n_iter"] >= 1

    unreachable = softmax(
        "train", parquet_rows / "train", "--target", "label", "--scheduler", address,
        "--dask-timeout", "2", "-o", tmp_path / "n.safetensors",
    )  # fmt: skip
    assert unreachable.returncode == 2
    assert f"cannot reach the Dask scheduler at {address}" in unreachable.stderr
