"""Streaming fits from Parquet, CSV and LIBSVM files equal in-memory fits, in bounded memory.

The oracle is the in-memory fit of the same rows (``SoftmaxClassifier.fit(X,
y, sample_weight)``), itself checked against scikit-learn in
``test_estimator.py``: full-batch solvers must reach its objective to 1e-8
relative, mini-batch solvers to the tolerance stated below. A subprocess with
a data-segment limit shows that a file three times larger than the memory it
may use is fitted.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp
from sklearn.datasets import dump_svmlight_file

from softmax_classifier import SoftmaxClassifier
from softmax_classifier.data import StreamingData
from softmax_classifier.io import DataFileError, read_data

FEATURES = ["f0", "f1", "f2", "f3", "f4"]
LABELS = np.array(["ant", "bee", "cow"])
# Mini-batch solvers walk the rows in another order when streamed (row groups
# shuffled, then rows within a buffer), so they end at another point near the
# optimum: within this relative objective of the in-memory fit.
STOCHASTIC_RTOL = 2e-3


def make_rows(seed=0, n=3000):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, len(FEATURES))) * [1.0, 2.0, 5.0, 0.5, 3.0] + [0, 1, -2, 0, 4]
    logits = X @ rng.standard_normal((len(FEATURES), 3)) * 0.5
    y = LABELS[np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)]
    weights = rng.uniform(0.0, 2.0, n)
    return X, y, weights


def table_of(X, y, weights=None):
    columns = {name: X[:, j] for j, name in enumerate(FEATURES)}
    columns["label"] = y
    if weights is not None:
        columns["w"] = weights
    return pa.table(columns)


@pytest.fixture(scope="module")
def rows():
    return make_rows()


@pytest.fixture(scope="module")
def paths(rows, tmp_path_factory):
    """The same rows as one Parquet file, a directory of three, and a CSV file."""
    X, y, weights = rows
    folder = tmp_path_factory.mktemp("stream")
    table = table_of(X, y, weights)
    pq.write_table(table, folder / "rows.parquet", row_group_size=250)
    (folder / "parts").mkdir()
    for k, start in enumerate(range(0, len(y), 1000)):
        pq.write_table(
            table.slice(start, 1000), folder / "parts" / f"part-{k}.parquet", row_group_size=300
        )
    pa_csv.write_csv(table, folder / "rows.csv")
    return {
        "parquet": folder / "rows.parquet",
        "directory": folder / "parts",
        "csv": folder / "rows.csv",
    }


def final_objective(model):
    return model.fit_report_.objective_history[-1]


# ---------------------------------------------------------------------------
# Streaming == in memory
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "solver"),
    [
        *(
            (kind, solver)
            for kind in ("parquet", "directory", "csv")
            for solver in ("lbfgs", "newton-cg")
        ),
        ("parquet", "gd"),  # thousands of passes: one file kind is enough
    ],
)
def test_full_batch_solvers_reach_the_in_memory_objective(rows, paths, kind, solver):
    X, y, weights = rows
    params = {"solver": solver, "tol": 1e-7, "alpha": 1e-3, "max_iter": 5000, "standardize": True}
    source = StreamingData(paths[kind], "label", weight_column="w", block_rows=700)
    streamed = SoftmaxClassifier(**params).fit(source)
    in_memory = SoftmaxClassifier(**params).fit(X, y, sample_weight=weights)
    assert streamed.fit_report_.stop_reason == in_memory.fit_report_.stop_reason == "converged"
    assert abs(final_objective(streamed) - final_objective(in_memory)) <= 1e-8 * abs(
        final_objective(in_memory)
    )
    np.testing.assert_allclose(streamed.predict_proba(X), in_memory.predict_proba(X), atol=1e-6)
    assert list(streamed.classes_) == list(LABELS)
    assert list(streamed.feature_names_in_) == FEATURES


@pytest.mark.parametrize("standardize", [False, True])
@pytest.mark.parametrize("class_weight", [None, "balanced", {"bee": 3.0}])
def test_preprocessing_and_class_weights_match(rows, paths, standardize, class_weight):
    X, y, _ = rows
    params = {"tol": 1e-7, "standardize": standardize, "class_weight": class_weight}
    streamed = SoftmaxClassifier(**params).fit(
        StreamingData(paths["parquet"], "label", features=FEATURES, block_rows=512)
    )
    in_memory = SoftmaxClassifier(**params).fit(X, y)
    assert abs(final_objective(streamed) - final_objective(in_memory)) <= 1e-8 * abs(
        final_objective(in_memory)
    )
    if standardize:
        np.testing.assert_allclose(streamed.feature_mean_, in_memory.feature_mean_, rtol=1e-12)
        np.testing.assert_allclose(streamed.feature_scale_, in_memory.feature_scale_, rtol=1e-12)
    np.testing.assert_allclose(streamed.predict_proba(X), in_memory.predict_proba(X), atol=1e-6)


def test_float32_stream_stays_float32(rows, paths):
    X, y, weights = rows
    source = StreamingData(paths["parquet"], "label", weight_column="w", dtype=np.float32)
    assert next(source.blocks())[0].dtype == np.float32
    streamed = SoftmaxClassifier(tol=1e-6).fit(source)
    in_memory = SoftmaxClassifier(tol=1e-6).fit(X.astype(np.float32), y, sample_weight=weights)
    assert streamed.coef_.dtype == np.float32
    assert abs(final_objective(streamed) - final_objective(in_memory)) <= 1e-6 * abs(
        final_objective(in_memory)
    )


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_mini_batch_solvers_reach_the_in_memory_objective_within_tolerance(rows, paths, solver):
    X, y, weights = rows
    params = {"solver": solver, "max_iter": 40, "random_state": 0, "batch_size": 64}
    source = StreamingData(paths["parquet"], "label", weight_column="w", shuffle_rows=1000)
    with pytest.warns(Warning, match="max_iter"):
        streamed = SoftmaxClassifier(**params).fit(source)
    with pytest.warns(Warning, match="max_iter"):
        in_memory = SoftmaxClassifier(**params).fit(X, y, sample_weight=weights)
    reference = SoftmaxClassifier(tol=1e-10, max_iter=1000)  # the optimum, not 100 steps
    optimum = final_objective(reference.fit(X, y, sample_weight=weights))
    for model in (streamed, in_memory):
        assert final_objective(model) - optimum <= STOCHASTIC_RTOL * optimum
    assert abs(final_objective(streamed) - final_objective(in_memory)) <= STOCHASTIC_RTOL * abs(
        final_objective(in_memory)
    )


# ---------------------------------------------------------------------------
# Batches: every row once, shuffled, reproducible, bounded
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["parquet", "directory", "csv"])
def test_an_epoch_of_batches_covers_every_row_once(rows, paths, kind):
    X, _, _ = rows
    source = StreamingData(paths[kind], "label", FEATURES, block_rows=400, shuffle_rows=900)

    def epoch(seed):
        return list(source.batches(64, np.random.default_rng(seed)))

    batches = epoch(1)
    assert all(len(b[1]) <= 64 for b in batches)
    seen = np.vstack([b[0] for b in batches])
    assert seen.shape == X.shape
    # The same multiset of rows: sort both by every column.
    np.testing.assert_array_equal(seen[np.lexsort(seen.T)], X[np.lexsort(X.T)])
    again = epoch(1)
    for a, b in zip(batches, again, strict=True):
        np.testing.assert_array_equal(a[0], b[0])
    first_rows = np.vstack([b[0] for b in batches[:5]])
    assert not np.array_equal(first_rows, X[: len(first_rows)])  # shuffled
    assert not np.array_equal(first_rows, np.vstack([b[0] for b in epoch(2)[:5]]))


def test_blocks_are_bounded_by_block_rows(paths):
    source = StreamingData(paths["parquet"], "label", block_rows=333)
    sizes = [len(block[1]) for block in source.blocks()]
    assert sum(sizes) == source.n_samples == 3000
    assert max(sizes) <= 333


# ---------------------------------------------------------------------------
# Errors before fitting, naming the problem
# ---------------------------------------------------------------------------


def test_bad_value_is_reported_with_file_and_row(rows, tmp_path):
    X, y, _ = rows
    X = X.copy()
    X[1234, 2] = np.nan
    folder = tmp_path / "bad"
    folder.mkdir()
    table = table_of(X, y)
    pq.write_table(table.slice(0, 1000), folder / "a.parquet")
    pq.write_table(table.slice(1000), folder / "b.parquet")
    with pytest.raises(DataFileError, match=r"NaN.*'f2'.*row 235 of .*b\.parquet.*row 1235"):
        StreamingData(folder, "label")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": "nope"}, "column 'nope' not found"),
        ({"target": "label", "features": ["f0", "zz"]}, "feature columns not found.*: zz;"),
        ({"target": "label", "weight_column": "ww"}, "weight column 'ww' not found"),
    ],
)
def test_missing_columns_are_named(paths, kwargs, message):
    with pytest.raises(DataFileError, match=message):
        StreamingData(paths["parquet"], **kwargs)


def test_negative_weights_and_text_features_are_refused(rows, tmp_path):
    X, y, weights = rows
    weights = weights.copy()
    weights[7] = -1.0
    pq.write_table(table_of(X, y, weights), tmp_path / "w.parquet")
    with pytest.raises(DataFileError, match="negative weight in column 'w' at row 8"):
        StreamingData(tmp_path / "w.parquet", "label", weight_column="w")
    pq.write_table(table_of(X, y).append_column("txt", pa.array(y)), tmp_path / "t.parquet")
    with pytest.raises(DataFileError, match=r"non-numeric feature columns.*: txt;"):
        StreamingData(tmp_path / "t.parquet", "label")


def test_fit_refuses_labels_beside_a_source_and_a_single_class(rows, paths, tmp_path):
    X, y, _ = rows
    source = StreamingData(paths["parquet"], "label")
    with pytest.raises(ValueError, match="brings its own labels"):
        SoftmaxClassifier().fit(source, y)
    pq.write_table(table_of(X[:10], np.full(10, "ant")), tmp_path / "one.parquet")
    with pytest.raises(ValueError, match="at least 2 classes"):
        SoftmaxClassifier().fit(StreamingData(tmp_path / "one.parquet", "label"))


def test_only_parquet_csv_and_libsvm_stream(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, X=np.ones((2, 2)), y=np.arange(2))
    with pytest.raises(DataFileError, match="streaming reads Parquet, CSV and LIBSVM files"):
        StreamingData(path, "label")


# ---------------------------------------------------------------------------
# LIBSVM: sparse rows read by byte ranges into CSR blocks
# ---------------------------------------------------------------------------

SVM_LABELS = np.array([-1, 1, 2])
SVM_BLOCK_ROWS = 120  # about 5 byte ranges for the 600 rows below


@pytest.fixture(scope="module")
def svm_paths(tmp_path_factory):
    """A LIBSVM file of 600 sparse rows (the last feature never used), and it gzipped."""
    rng = np.random.default_rng(1)
    n, n_features = 600, 10
    X = rng.standard_normal((n, n_features)) * [1, 2, 5, 0.5, 3, 1, 1, 2, 4, 1] + 1.0
    X[rng.random(X.shape) > 0.3] = 0.0
    X[:, -1] = 0.0
    logits = X @ rng.standard_normal((n_features, 3)) * 0.5
    y = SVM_LABELS[np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)]
    folder = tmp_path_factory.mktemp("svm")
    dump_svmlight_file(sp.csr_matrix(X), y, str(folder / "rows.svm"), zero_based=False)
    with gzip.open(folder / "rows.svm.gz", "wb") as compressed:
        compressed.write((folder / "rows.svm").read_bytes())
    return {"plain": folder / "rows.svm", "gz": folder / "rows.svm.gz"}


@pytest.fixture(scope="module")
def svm_rows(svm_paths):
    """The rows as the in-memory path reads them: CSR X (9 columns) and int64 y."""
    data = read_data(svm_paths["plain"])
    return data.X, data.y


def svm_source(svm_paths, kind="plain", **kwargs):
    return StreamingData(svm_paths[kind], block_rows=SVM_BLOCK_ROWS, **kwargs)


def test_libsvm_blocks_are_the_file_read_by_byte_ranges(svm_paths, svm_rows):
    X, y = svm_rows
    for kind in ("plain", "gz"):
        source = svm_source(svm_paths, kind)
        assert source.is_sparse and source.feature_names == [str(j) for j in range(1, 10)]
        assert source.shape == X.shape == (600, 9)
        assert list(source.classes) == list(SVM_LABELS) and source.classes.dtype == np.int64
        assert len(source._ranges) >= 4
        parts = list(source.labelled_blocks())
        assert all(sp.issparse(X_block) and X_block.format == "csr" for X_block, _ in parts)
        assert (sp.vstack([X_block for X_block, _ in parts]) != X).nnz == 0
        np.testing.assert_array_equal(np.concatenate([labels for _, labels in parts]), y)
        assert next(source.blocks())[2] is None


@pytest.mark.parametrize(
    ("kind", "solver", "params"),
    [
        ("plain", "lbfgs", {}),
        ("gz", "lbfgs", {}),
        ("plain", "newton-cg", {}),
        ("plain", "lbfgs", {"standardize": True, "class_weight": "balanced"}),
        ("plain", "gd", {"max_iter": 30}),  # same iterations, not to convergence: seconds
    ],
)
def test_libsvm_stream_reaches_the_in_memory_objective(svm_paths, svm_rows, kind, solver, params):
    X, y = svm_rows
    params = {"solver": solver, "tol": 1e-7, "alpha": 1e-3, **params}
    with pytest.warns(Warning, match="max_iter") if "max_iter" in params else nullcontext():
        streamed = SoftmaxClassifier(**params).fit(svm_source(svm_paths, kind))
        in_memory = SoftmaxClassifier(**params).fit(X, y)
    assert streamed.fit_report_.stop_reason == in_memory.fit_report_.stop_reason
    assert abs(final_objective(streamed) - final_objective(in_memory)) <= 1e-8 * abs(
        final_objective(in_memory)
    )
    np.testing.assert_allclose(streamed.predict_proba(X), in_memory.predict_proba(X), atol=1e-6)
    assert list(streamed.classes_) == list(SVM_LABELS) and streamed.n_features_in_ == 9
    if params.get("standardize"):
        assert not streamed.feature_mean_.any()  # scaled, never centred, as in memory
        np.testing.assert_allclose(streamed.feature_scale_, in_memory.feature_scale_, rtol=1e-10)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_libsvm_mini_batch_solvers_within_tolerance(svm_paths, svm_rows, solver):
    X, y = svm_rows
    params = {"solver": solver, "max_iter": 15, "random_state": 0, "batch_size": 32}
    if solver == "adam":
        params["learning_rate"] = 0.05  # the default needs several times the epochs here
    source = svm_source(svm_paths, shuffle_rows=200)
    with pytest.warns(Warning, match="max_iter"):
        streamed = SoftmaxClassifier(**params).fit(source)
    with pytest.warns(Warning, match="max_iter"):
        in_memory = SoftmaxClassifier(**params).fit(X, y)
    optimum = final_objective(SoftmaxClassifier(tol=1e-8).fit(X, y))
    for model in (streamed, in_memory):
        assert final_objective(model) - optimum <= STOCHASTIC_RTOL * optimum
    assert abs(final_objective(streamed) - final_objective(in_memory)) <= STOCHASTIC_RTOL * abs(
        final_objective(in_memory)
    )


@pytest.mark.parametrize("kind", ["plain", "gz"])
def test_an_epoch_of_libsvm_batches_covers_every_row_once(svm_paths, svm_rows, kind):
    X = svm_rows[0].toarray()
    source = svm_source(svm_paths, kind, shuffle_rows=250)

    def epoch(seed):
        return list(source.batches(32, np.random.default_rng(seed)))

    batches = epoch(1)
    assert all(sp.issparse(b[0]) and len(b[1]) <= 32 for b in batches)
    seen = sp.vstack([b[0] for b in batches]).toarray()
    assert seen.shape == X.shape
    np.testing.assert_array_equal(seen[np.lexsort(seen.T)], X[np.lexsort(X.T)])
    for a, b in zip(batches, epoch(1), strict=True):
        assert (a[0] != b[0]).nnz == 0
    first_rows = sp.vstack([b[0] for b in batches[:5]]).toarray()
    assert not np.array_equal(first_rows, X[: len(first_rows)])  # shuffled
    assert not np.array_equal(first_rows, sp.vstack([b[0] for b in epoch(2)[:5]]).toarray())


def test_libsvm_float32_stream_stays_float32(svm_paths, svm_rows):
    X, y = svm_rows
    source = svm_source(svm_paths, dtype=np.float32)
    assert all(X_block.dtype == np.float32 for X_block, _, _ in source.blocks())
    assert next(source.batches(64, np.random.default_rng(0)))[0].dtype == np.float32
    streamed = SoftmaxClassifier(tol=1e-4).fit(source)
    in_memory = SoftmaxClassifier(tol=1e-4).fit(X.astype(np.float32), y)
    assert streamed.coef_.dtype == np.float32
    assert abs(final_objective(streamed) - final_objective(in_memory)) <= 1e-6 * abs(
        final_objective(in_memory)
    )


def test_libsvm_width_and_labels_as_in_memory(tmp_path):
    path = tmp_path / "few.svm"
    path.write_text("# a comment\n0.5 2:1\n\n1.5 1:-1 3:2 # trailing comment\n0.5 1:3\n")
    source = StreamingData(path, n_features=5)
    assert source.shape == (3, 5) and source.classes.dtype == np.float64
    X_block, labels = next(source.labelled_blocks())
    assert X_block.shape == (3, 5)
    np.testing.assert_array_equal(labels, [0.5, 1.5, 0.5])


def write_svm_lines(path, n_lines, bad_line=None, bad_text=""):
    """``n_lines`` LIBSVM rows, line ``bad_line`` (1-based) replaced by ``bad_text``."""
    lines = [f"{k % 2} 1:{k * 0.25} 3:1.5" for k in range(n_lines)]
    if bad_line is not None:
        lines[bad_line - 1] = bad_text
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("bad_text", "kwargs", "message"),
    [
        ("1 1:0.5 2:nan", {}, r"NaN value for feature 2 at row 1500 of .*bad\.svm"),
        ("1 2:inf", {}, r"infinite value for feature 2 at row 1500 of"),
        ("nan 1:1", {}, r"NaN label at row 1500 of"),
        ("1 0:1.5 2:1", {"zero_based": False}, r"index 0 at row 1500, but zero_based=False"),
        ("1 1:1 7:1", {"n_features": 5}, r"bad\.svm uses feature index 7 but n_features=5"),
        ("1 1:1e39", {"dtype": np.float32}, r"too large for float32 .*feature 1 at row 1500"),
    ],
)
def test_bad_libsvm_values_are_reported_with_file_and_row(tmp_path, bad_text, kwargs, message):
    path = tmp_path / "bad.svm"
    write_svm_lines(path, 2000, bad_line=1500, bad_text=bad_text)  # in a later block
    with pytest.raises(DataFileError, match=message):
        StreamingData(path, block_rows=200, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": "label"}, r"target='label' cannot .* its label leads each line"),
        ({"features": ["f0"]}, r"not found in .*: f0; its features are the indices 1 to 9"),
        ({"weight_column": "w"}, r"weight_column='w' cannot .*: it has no weights"),
    ],
)
def test_libsvm_refuses_named_columns(svm_paths, kwargs, message):
    with pytest.raises(DataFileError, match=message):
        StreamingData(svm_paths["plain"], **kwargs)


# ---------------------------------------------------------------------------
# Larger than the memory it may use
# ---------------------------------------------------------------------------

MEMORY_CAPPED_FIT = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np
    import pyarrow as pa
    from softmax_classifier import SoftmaxClassifier
    from softmax_classifier.data import StreamingData
    import pyarrow.parquet

    def data_segment_bytes():
        for line in open("/proc/self/status"):
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024

    path, headroom, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    cap = data_segment_bytes() + headroom
    resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
    try:
        if mode == "stream":
            source = StreamingData(path, "label", block_rows=20000, n_threads=1)
            model = SoftmaxClassifier(max_iter=3).fit(source)
        else:  # all the features at once, as an in-memory fit needs them
            X = np.ones((pa.parquet.ParquetFile(path).metadata.num_rows, 30))
    except MemoryError:
        print(json.dumps({"memory_error": True}))
        sys.exit(0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"memory_error": False, "peak_rss": peak, "n_iter": int(model.n_iter_)}))
    """
)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_a_file_three_times_larger_than_the_memory_cap_is_fitted(tmp_path):
    # The reader's fixed overhead (Arrow and Parquet buffers, malloc arenas) is
    # about 100 MB whatever the file's size; blocks add a few MB.
    headroom = 192 * 2**20
    n_rows, n_features = 2_600_000, 30  # 624 MB of float64 features: > 3 x 192 MiB
    path = tmp_path / "big.parquet"
    rng = np.random.default_rng(0)
    names = [f"x{j}" for j in range(n_features)]
    schema = pa.schema([(name, pa.float64()) for name in names] + [("label", pa.int64())])
    # Plain encoding: random doubles never fit a dictionary, and trying one first (the
    # default) made writing the file take 4x longer; the writer falls back to plain pages
    # after a column chunk's first megabyte anyway, so the reader sees the same kind.
    with pq.ParquetWriter(path, schema, use_dictionary=False) as writer:
        for _ in range(n_rows // 100_000):
            X = rng.standard_normal((100_000, n_features))
            y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 1)
            columns = [pa.array(X[:, j]) for j in range(n_features)] + [pa.array(y)]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema), row_group_size=50_000)
    data_bytes = n_rows * n_features * 8
    assert data_bytes >= 3 * headroom

    env = {**os.environ, "MALLOC_ARENA_MAX": "2", "ARROW_DEFAULT_MEMORY_POOL": "system"}
    script = tmp_path / "capped.py"
    script.write_text(MEMORY_CAPPED_FIT)

    def run(mode):
        completed = subprocess.run(
            [sys.executable, str(script), str(path), str(headroom), mode],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert completed.returncode == 0, completed.stderr[-2000:]
        return json.loads(completed.stdout.strip().splitlines()[-1])

    # The cap is real: holding the features in memory fails under it (loading
    # them with pyarrow under the cap was seen to hang instead of failing)...
    assert run("memory")["memory_error"] is True
    # ...while streaming fits it.
    streamed = run("stream")
    assert streamed["memory_error"] is False and streamed["n_iter"] == 3
    print(
        f"\nstreamed {data_bytes / 2**20:.0f} MiB of features under a "
        f"{headroom / 2**20:.0f} MiB data-segment headroom; "
        f"peak RSS {streamed['peak_rss'] / 2**20:.0f} MiB"
    )


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def softmax_command():
    return str(Path(sys.executable).with_name("softmax"))


def test_cli_trains_from_a_stream_and_scores_it_block_by_block(rows, paths, tmp_path):
    X, y, _ = rows
    test_path = tmp_path / "test.parquet"
    pq.write_table(table_of(X[:500], y[:500]), test_path)
    model_path = tmp_path / "m.safetensors"
    completed = subprocess.run(
        [
            softmax_command(),
            "train",
            str(paths["directory"]),
            "--target",
            "label",
            "--features",
            ",".join(FEATURES),
            "--stream",
            "--block-rows",
            "400",
            "--test",
            str(test_path),
            "-o",
            str(model_path),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    metrics = json.loads((tmp_path / "m_run" / "metrics.json").read_text())
    in_memory = SoftmaxClassifier(standardize=True).fit(X, y)
    assert metrics["train"]["n_samples"] == 3000 and metrics["test"]["n_samples"] == 500
    assert metrics["train"]["accuracy"] == pytest.approx(in_memory.score(X, y), abs=2e-3)

    refused = subprocess.run(
        [
            *(softmax_command(), "train", str(paths["parquet"]), "--target", "label"),
            *("--stream", "--test-size", "0.2", "-o", str(tmp_path / "x.safetensors")),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2
    assert "with --stream hold out a separate file with --test" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_cli_trains_from_a_libsvm_stream(svm_paths, svm_rows, tmp_path):
    X, y = svm_rows
    test_path = tmp_path / "test.svm"
    narrow = X[:100].tocsc()[:, :6].tocsr()  # uses fewer features than the training file
    dump_svmlight_file(narrow, y[:100], str(test_path), zero_based=False)
    model_path = tmp_path / "m.safetensors"
    completed = subprocess.run(
        [
            *(softmax_command(), "train", str(svm_paths["plain"]), "--stream"),
            *("--block-rows", "120", "--test", str(test_path), "-o", str(model_path), "--quiet"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    metrics = json.loads((tmp_path / "m_run" / "metrics.json").read_text())
    in_memory = SoftmaxClassifier(standardize=True).fit(X, y)
    assert metrics["train"]["n_samples"] == 600 and metrics["test"]["n_samples"] == 100
    assert metrics["train"]["accuracy"] == pytest.approx(in_memory.score(X, y), abs=2e-3)
    assert metrics["train"]["labels"] == SVM_LABELS.tolist()


# ---------------------------------------------------------------------------
# Issue 10: zero-based LIBSVM files, CSV without a header, dropped columns
# ---------------------------------------------------------------------------


def test_zero_based_libsvm_stream_is_detected_in_the_first_pass(svm_rows, tmp_path):
    X, y = svm_rows
    path = tmp_path / "zero.svm"
    dump_svmlight_file(X, y, str(path))  # scikit-learn's default: indices from 0
    source = StreamingData(path, block_rows=50)  # the 0 appears in a later block than the first
    assert source.zero_based is True
    assert source.feature_names == [str(j) for j in range(X.shape[1])]
    streamed = sp.vstack([block for block, _ in source.labelled_blocks()])
    np.testing.assert_array_equal(streamed.toarray(), X.toarray())
    in_memory = read_data(path)
    assert in_memory.feature_names == source.feature_names
    with pytest.raises(DataFileError, match=r"feature index 0 at row \d+, but zero_based=False"):
        StreamingData(path, zero_based=False)


def test_csv_stream_without_header_and_with_dropped_columns(rows, tmp_path):
    X, y, weights = rows
    with_id = table_of(X, y, weights).append_column("id", pa.array(np.arange(len(y))))
    headerless = tmp_path / "rows.csv"
    pa_csv.write_csv(with_id, headerless, write_options=pa_csv.WriteOptions(include_header=False))
    # Columns "1".."5" are the features, "6" the label, "7" the weights, "8" the id.
    source = StreamingData(
        headerless, "6", header=False, drop=["8"], weight_column="7", block_rows=700
    )
    assert source.feature_names == ["1", "2", "3", "4", "5"]
    blocks = list(source.labelled_blocks())
    np.testing.assert_allclose(np.vstack([b for b, _ in blocks]), X, rtol=1e-15)
    assert np.concatenate([labels for _, labels in blocks]).tolist() == y.tolist()
    with pytest.raises(DataFileError, match=r"looks like data, not a header: use --no-header"):
        StreamingData(headerless, "label")
    with pytest.raises(DataFileError, match=r"columns to drop not found .*: 9"):
        StreamingData(headerless, "6", header=False, drop=["9"])
