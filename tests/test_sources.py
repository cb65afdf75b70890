"""One small fit through every data source: the same objective, the same checks.

Arrays, CSR, a CSV file, a directory of Parquet files, a LIBSVM file and a Dask
cluster all reach the fit pipeline through ``as_source``; a fit on each must end
at the same optimum, and the same bad weight, label or value must be refused
with the same problem named at the same row.
"""

from __future__ import annotations

import faulthandler

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp

from softmax_classifier import SoftmaxClassifier
from softmax_classifier.data import DataSource, as_source
from softmax_classifier.data._checks import BAD_LABEL, BAD_VALUE, BAD_WEIGHT

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

N, D = 300, 4
# Every source must give the optimum of the in-memory fit. The fits stop at
# max|grad| <= 1e-10 (Newton-CG: quadratic at the end); the objective differs from
# the optimum by ~ grad^2 / curvature (alpha = 1e-2) ~ 1e-18, and summation order
# (blocks, threads, workers) moves it by ~1e-15 relative. 1e-8 is the bound,
# with six orders of margin.
RTOL = 1e-8


@pytest.fixture(autouse=True)
def no_hang():
    faulthandler.dump_traceback_later(240, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def make_rows(seed=0):
    """Values with four decimals (exact through every text format), int labels, weights 1."""
    rng = np.random.default_rng(seed)
    X = np.round(rng.standard_normal((N, D)), 4)
    X[rng.random((N, D)) < 0.3] = 0.0  # some zeros, so the sparse forms are sparse
    logits = X @ rng.standard_normal((D, 3))
    y = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1) + 1
    return X, y


def write(kind, X, y, folder, weights=None):
    """The rows as a file of ``kind``; returns the path and the reading options."""
    names = [f"f{j}" for j in range(X.shape[1])]
    columns = {name: X[:, j] for j, name in enumerate(names)}
    columns["label"] = y
    if weights is not None:
        columns["w"] = weights
    if kind == "csv":
        path = folder / "rows.csv"
        with open(path, "w") as f:
            f.write(",".join(columns) + "\n")
            for k in range(len(y)):
                f.write(",".join(_text(columns[c][k]) for c in columns) + "\n")
        return path, {"target": "label"}
    if kind == "parquet":
        path = folder / "rows"
        path.mkdir()
        table = pa.table(columns)
        half = len(y) // 2  # two files: rows are counted across them
        pq.write_table(table.slice(0, half), path / "a.parquet")
        pq.write_table(table.slice(half), path / "b.parquet")
        return path, {"target": "label"}
    path = folder / "rows.svm"
    with open(path, "w") as f:  # by hand: scikit-learn's writer refuses NaN
        for row, label in zip(X, y, strict=True):
            pairs = [f"{j + 1}:{_text(float(v))}" for j, v in enumerate(row) if v != 0]
            f.write(" ".join([str(label), *pairs]) + "\n")
    return path, {}


def _text(value):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "nan" if value is not None else ""
    return repr(float(value)) if isinstance(value, float) else str(value)


def open_source(kind, X, y, folder, client, weights=None):
    if kind == "arrays":
        return as_source(X, y, weights)
    if kind == "csr":
        return as_source(sp.csr_matrix(X), y, weights)
    if kind == "dask":
        w = None if weights is None else da.from_array(weights, chunks=100)
        return as_source(da.from_array(X, chunks=(100, D)), da.from_array(y, chunks=100), w)
    path, options = write(kind, X, y, folder, weights)
    if weights is not None:
        options["weight_column"] = "w"
    return as_source(path, block_rows=64, **options)


KINDS = ["arrays", "csr", "csv", "parquet", "libsvm", "dask"]


@pytest.fixture(scope="module")
def reference():
    X, y = make_rows()
    model = SoftmaxClassifier(alpha=1e-2, solver="newton-cg", tol=1e-10).fit(X, y)
    return model


# Models fitted on named file columns predict the plain training array here.
@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
@pytest.mark.parametrize("kind", KINDS)
def test_every_source_reaches_the_same_objective(kind, reference, client, tmp_path):
    X, y = make_rows()
    source = open_source(kind, X, y, tmp_path, client)
    assert isinstance(source, DataSource)
    assert source.shape == (N, D)
    np.testing.assert_array_equal(source.classes, [1, 2, 3])
    model = SoftmaxClassifier(alpha=1e-2, solver="newton-cg", tol=1e-10).fit(source)
    final = model.fit_report_.objective_history[-1]
    expected = reference.fit_report_.objective_history[-1]
    assert abs(final - expected) <= RTOL * abs(expected)
    np.testing.assert_array_equal(model.classes_, reference.classes_)
    # Same predictions on the training rows.
    np.testing.assert_array_equal(model.predict(X), reference.predict(X))


def bad_rows(problem):
    """Rows with one bad entry at row 7: the value, the label or the weight."""
    X, y = make_rows()
    weights = None
    if problem == "value":
        X[7, 2] = np.nan
    elif problem == "label":
        y = y.astype(float)
        y[7] = np.nan
    else:
        weights = np.ones(N)
        weights[7] = -1.0
    return X, y, weights


# Where a file format cannot hold the problem: LIBSVM rows carry no weights, and a
# line without a label is not a row.
CASES = [
    (kind, problem)
    for kind in KINDS
    for problem in ("value", "label", "weight")
    if not (kind == "libsvm" and problem in ("weight", "label"))
]
PHRASE = {"value": BAD_VALUE, "label": BAD_LABEL, "weight": BAD_WEIGHT}


def refusal(kind, problem, client, folder):
    X, y, weights = bad_rows(problem)
    with pytest.raises(ValueError) as info:
        SoftmaxClassifier().fit(open_source(kind, X, y, folder, client, weights))
    return str(info.value)


@pytest.mark.parametrize(("kind", "problem"), CASES, ids=[f"{k}-{p}" for k, p in CASES])
def test_every_source_refuses_the_same_bad_row_with_the_same_sentence(
    kind, problem, client, tmp_path
):
    message = refusal(kind, problem, client, tmp_path)
    # One sentence for every source, rows counted from 0; then, in parentheses, where
    # the source has the row (a file's column and line, counted from 1; a Dask block).
    assert message.startswith(f"{PHRASE[problem]} in row 7"), message
    if kind in ("csv", "parquet", "libsvm"):
        assert "row 8 of " in message, message


@pytest.mark.parametrize("problem", ["value", "label", "weight"])
def test_sources_of_arrays_share_one_message(problem, client, tmp_path):
    """Arrays, CSR and Dask run the same check: one sentence, Dask adds the block."""
    phrase = PHRASE[problem]
    messages = {
        kind: refusal(kind, problem, client, tmp_path) for kind in ("arrays", "csr", "dask")
    }
    for kind, message in messages.items():
        assert message.startswith(f"{phrase} in row 7"), (kind, message)
    assert messages["arrays"] == messages["csr"]
    # Dask says which block too: "...row 7 (-1.0; block 0, row 7 of the block)."
    in_memory = messages["arrays"].removesuffix(".").removesuffix(")")
    assert messages["dask"].startswith(in_memory), messages


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([1, "a", 1, "a"], r"mixes labels of types .*\(int, str\)"),
        (["a", None, "b", "a"], r"y has a missing \(None or NaN\) label in row 1\."),
    ],
)
def test_labels_that_cannot_be_classes_are_refused_in_one_sentence(labels, message):
    # Regression: None among string labels reached np.unique (a TypeError from NumPy).
    X = np.arange(8.0).reshape(4, 2)
    y = np.array(labels, dtype=object)
    with pytest.raises(ValueError, match=message):
        SoftmaxClassifier().fit(X, y)
    with pytest.raises(ValueError, match=message):
        as_source(X, y)


@pytest.mark.parametrize("option", [{"target": "label"}, {"block_rows": 8}, {"format": "csv"}])
def test_options_for_files_are_refused_with_arrays(option):
    with pytest.raises(ValueError, match=r"options for files and Dask \(.*\) do not apply"):
        as_source(np.eye(3), [0, 1, 0], **option)


def test_log_proba_blocks_scores_arrays_and_sources_alike(reference, tmp_path):
    X, y = make_rows()
    ((labels, log_proba),) = list(reference.log_proba_blocks(X, y))
    np.testing.assert_array_equal(labels, y)
    np.testing.assert_array_equal(log_proba, reference.predict_log_proba(X))
    path, options = write("csv", X, y, tmp_path)
    blocks = list(reference.log_proba_blocks(as_source(path, block_rows=64, **options)))
    assert len(blocks) > 1  # block by block, as the source was read
    np.testing.assert_array_equal(np.concatenate([b[0] for b in blocks]), y)
    # Same rows (exact through the CSV), same model: the same numbers up to how BLAS
    # blocks a product of 64 rows against one of 300: a few ulps of the logits (|z| < 50:
    # ~1e-14 absolute), which is large relative to a log-probability near 0, hence atol;
    # 1e-12 leaves a margin of 100.
    np.testing.assert_allclose(
        np.concatenate([b[1] for b in blocks]), log_proba, rtol=1e-12, atol=1e-12
    )
    with pytest.raises(ValueError, match="y is required"):
        list(reference.log_proba_blocks(X))
    with pytest.raises(ValueError, match="brings its own labels"):
        list(reference.log_proba_blocks(as_source(path, **options), y))
