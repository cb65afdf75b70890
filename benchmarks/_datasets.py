"""Datasets of the benchmarks: real ones from ``../shared/data`` and seeded synthetic ones.

Every loader returns a :class:`Dataset` with labels already encoded as class
indices ``0 .. n_classes - 1`` (what :func:`softmax_classifier.math.loss` takes).
Real data sets live outside the repository, in ``<repo>/../shared/data`` (see
its ``README.md``); when a file is missing the loader raises
:class:`DatasetNotFound` and the benchmark prints ``skipped: not found``.

Loaders
-------
load_digits_dataset
    scikit-learn's 8x8 digits, standardised, 75/25 stratified split.
load_fashion_mnist
    Fashion-MNIST from its IDX files, pixels scaled to [0, 1] float32.
load_sector
    LIBSVM ``sector`` (sparse tf-idf, 105 classes), features aligned.
load_letter
    LIBSVM ``letter`` (16 features scaled to [-1, 1], 26 classes), dense.
make_covertype_like
    Seeded tabular data shaped like Covertype: 10 continuous features of very
    different scales, 44 one-hot binary columns, 7 imbalanced classes.
make_dense_classification, make_sparse_classification
    Labels drawn from a random softmax model (a random linear model plus
    Gumbel noise), fixed seed.

:func:`save_dataset` and :func:`load_dataset` move a dataset between processes
through ``.npy`` files (no pickling, no copy when loading).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

__all__ = [
    "DATA_DIR",
    "Dataset",
    "DatasetNotFound",
    "dataset_fingerprint",
    "load_dataset",
    "load_digits_dataset",
    "load_fashion_mnist",
    "load_letter",
    "load_sector",
    "make_covertype_like",
    "make_dense_classification",
    "make_sparse_classification",
    "read_idx",
    "save_dataset",
]

#: ``<repo>/../shared/data``: where the real data sets are, when present.
DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"


class DatasetNotFound(FileNotFoundError):
    """A real data set's files are not on this machine."""


@dataclass
class Dataset:
    """A train/test split with labels as class indices.

    Attributes
    ----------
    name : str
    X_train : ndarray or scipy.sparse.csr_matrix of shape (n_train, n_features)
    y_train : ndarray of shape (n_train,), int64 in ``0 .. n_classes - 1``
    X_test : ndarray or scipy.sparse.csr_matrix of shape (n_test, n_features)
    y_test : ndarray of shape (n_test,)
    n_classes : int
    description : str
        One line: where the data come from and how they were prepared.
    """

    name: str
    X_train: object
    y_train: np.ndarray
    X_test: object
    y_test: np.ndarray
    n_classes: int
    description: str = ""

    @property
    def sparse(self):
        """bool: whether ``X`` is a sparse matrix."""
        return sp.issparse(self.X_train)

    def summary(self):
        """JSON-ready facts about the data (shapes, dtype, density, classes)."""
        n, d = self.X_train.shape
        nnz = self.X_train.nnz if self.sparse else n * d
        return {
            "name": self.name,
            "description": self.description,
            "n_train": n,
            "n_test": self.X_test.shape[0],
            "n_features": d,
            "n_classes": self.n_classes,
            "dtype": str(self.X_train.dtype),
            "format": "csr" if self.sparse else "dense",
            "density": nnz / (n * d),
            "megabytes": _nbytes(self.X_train) / 2**20,
        }


# -- real data ----------------------------------------------------------------------
def load_digits_dataset(seed=0):
    """scikit-learn's digits (1797 x 64, 10 classes), standardised, 75/25 stratified split.

    The scaler is fitted on the training part only; features that are constant
    there are left unscaled.

    Returns
    -------
    Dataset
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=seed
    )
    scaler = StandardScaler().fit(X_train)
    return Dataset(
        "digits",
        scaler.transform(X_train),
        y_train.astype(np.int64),
        scaler.transform(X_test),
        y_test.astype(np.int64),
        10,
        "sklearn digits, standardised on the train split, float64",
    )


def read_idx(path):
    """Read an IDX file (optionally gzipped) into an ndarray.

    Layout: two zero bytes, a dtype code (0x08 = uint8), the number of
    dimensions, one big-endian uint32 per dimension, then the raw data.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    ndarray of uint8
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not a uint8 IDX file (header {raw[:4]!r}).")
    n_dims = raw[3]
    shape = tuple(np.frombuffer(raw, dtype=">u4", count=n_dims, offset=4).astype(int))
    offset = 4 + 4 * n_dims
    data = np.frombuffer(raw, dtype=np.uint8, offset=offset)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: {data.size} bytes of data for shape {shape}.")
    return data.reshape(shape)


def load_fashion_mnist(data_dir=DATA_DIR, n_train=None, seed=0):
    """Fashion-MNIST: 60000 train, 10000 test images of 784 pixels in [0, 1], float32.

    Parameters
    ----------
    data_dir : Path
        Folder holding ``fashion-mnist/``.
    n_train : int or None
        Keep a random subset of this many training rows (seeded); all when None.
    seed : int

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetNotFound
    """
    folder = Path(data_dir) / "fashion-mnist"
    names = {
        "X_train": "train-images-idx3-ubyte.gz",
        "y_train": "train-labels-idx1-ubyte.gz",
        "X_test": "t10k-images-idx3-ubyte.gz",
        "y_test": "t10k-labels-idx1-ubyte.gz",
    }
    missing = [name for name in names.values() if not (folder / name).is_file()]
    if missing:
        raise DatasetNotFound(f"{folder}: missing {', '.join(missing)}")
    arrays = {key: read_idx(folder / name) for key, name in names.items()}
    X_train = _pixels_to_float32(arrays["X_train"])
    y_train = arrays["y_train"].astype(np.int64)
    if n_train is not None and n_train < len(y_train):
        keep = np.sort(np.random.default_rng(seed).choice(len(y_train), n_train, replace=False))
        X_train, y_train = X_train[keep], y_train[keep]
    name = "fashion-mnist" if n_train is None else f"fashion-mnist-{_short(len(y_train))}"
    return Dataset(
        name,
        X_train,
        y_train,
        _pixels_to_float32(arrays["X_test"]),
        arrays["y_test"].astype(np.int64),
        10,
        "Fashion-MNIST, pixels / 255 as float32"
        + ("" if n_train is None else f", random {len(y_train)} training rows"),
    )


def load_sector(data_dir=DATA_DIR):
    """LIBSVM ``sector``: sparse tf-idf, 6412 train / 3207 test rows, 55197 features, 105 classes.

    Both files are read with :func:`sklearn.datasets.load_svmlight_file` with the
    same ``n_features``; labels 1..105 become 0..104.

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetNotFound
    """
    from sklearn.datasets import load_svmlight_file

    folder = Path(data_dir) / "sector"
    train_path, test_path = folder / "sector.scale.bz2", folder / "sector.t.scale.bz2"
    missing = [p.name for p in (train_path, test_path) if not p.is_file()]
    if missing:
        raise DatasetNotFound(f"{folder}: missing {', '.join(missing)}")
    X_train, y_train = load_svmlight_file(str(train_path))
    X_test, y_test = load_svmlight_file(str(test_path))
    n_features = max(X_train.shape[1], X_test.shape[1])
    if X_train.shape[1] < n_features:
        X_train, y_train = load_svmlight_file(str(train_path), n_features=n_features)
    if X_test.shape[1] < n_features:
        X_test, y_test = load_svmlight_file(str(test_path), n_features=n_features)
    classes = np.unique(y_train)
    return Dataset(
        "sector",
        X_train.tocsr(),
        np.searchsorted(classes, y_train).astype(np.int64),
        X_test.tocsr(),
        np.searchsorted(classes, y_test).astype(np.int64),
        len(classes),
        "LIBSVM sector (tf-idf, unit rows), CSR float64",
    )


def load_letter(data_dir=DATA_DIR, use_validation=True, n_train=None, seed=0):
    """LIBSVM ``letter``: 16 features in [-1, 1], 26 classes, dense float64.

    Parameters
    ----------
    data_dir : Path
        Folder holding ``letter/``.
    use_validation : bool, default=True
        Train on ``letter.scale.tr`` plus ``letter.scale.val`` (15000 rows);
        False: on ``letter.scale.tr`` only (10500 rows). The test split is
        ``letter.scale.t`` (5000 rows) either way.
    n_train : int or None
        Keep a random subset of this many training rows (seeded); all when None.
    seed : int

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetNotFound
    """
    from sklearn.datasets import load_svmlight_files

    folder = Path(data_dir) / "letter"
    names = ["letter.scale.tr", "letter.scale.val", "letter.scale.t"]
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise DatasetNotFound(f"{folder}: missing {', '.join(missing)}")
    X_tr, y_tr, X_val, y_val, X_test, y_test = load_svmlight_files(
        [str(folder / name) for name in names]
    )
    if use_validation:
        X_train, y_train = sp.vstack([X_tr, X_val]), np.concatenate([y_tr, y_val])
    else:
        X_train, y_train = X_tr, y_tr
    classes = np.unique(y_train)
    X_train = np.ascontiguousarray(X_train.toarray())
    if n_train is not None and n_train < len(y_train):
        keep = np.sort(np.random.default_rng(seed).choice(len(y_train), n_train, replace=False))
        X_train, y_train = X_train[keep], y_train[keep]
    return Dataset(
        "letter" if n_train is None else f"letter-{_short(len(y_train))}",
        X_train,
        np.searchsorted(classes, y_train).astype(np.int64),
        np.ascontiguousarray(X_test.toarray()),
        np.searchsorted(classes, y_test).astype(np.int64),
        len(classes),
        "LIBSVM letter (scaled to [-1, 1]), "
        + ("tr + val" if use_validation else "tr")
        + " for training, .t for testing, dense float64"
        + ("" if n_train is None else f", random {len(y_train)} training rows"),
    )


# -- synthetic data -----------------------------------------------------------------
def make_dense_classification(
    n_train, n_test, n_features, n_classes, *, seed=0, dtype=np.float32, logit_scale=3.0
):
    """Gaussian features, labels sampled from a random softmax model.

    ``X ~ N(0, 1)``; ``y = argmax(X W^T + b + G)`` with ``W`` Gaussian scaled so
    that each logit has standard deviation ``logit_scale``, and ``G`` standard
    Gumbel noise, i.e. ``y`` is drawn from ``softmax(X W^T + b)``.

    Returns
    -------
    Dataset
    """
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    X = rng.standard_normal((n, n_features), dtype=np.float32).astype(dtype, copy=False)
    coef = rng.standard_normal((n_classes, n_features)) * (logit_scale / np.sqrt(n_features))
    y = _sample_labels(rng, X, coef, rng.standard_normal(n_classes))
    return Dataset(
        f"dense-{_short(n_train)}x{n_features}",
        X[:n_train],
        y[:n_train],
        X[n_train:],
        y[n_train:],
        n_classes,
        f"synthetic N(0,1) features, labels from a random softmax model, {np.dtype(dtype)}",
    )


def make_sparse_classification(
    n_train, n_test, n_features, density, n_classes, *, seed=0, logit_scale=4.0
):
    """Sparse tf-idf-like rows (positive, unit L2 norm), labels from a random softmax model.

    Each row has ``round(density * n_features)`` uniformly chosen columns
    (duplicates merged) with log-normal values, then is scaled to unit norm.
    Labels as in :func:`make_dense_classification`. CSR, float64.

    Returns
    -------
    Dataset
    """
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    per_row = max(1, round(density * n_features))
    rows = np.repeat(np.arange(n, dtype=np.int32), per_row)
    cols = rng.integers(0, n_features, size=n * per_row, dtype=np.int32)
    values = rng.lognormal(size=n * per_row)
    X = sp.coo_matrix((values, (rows, cols)), shape=(n, n_features)).tocsr()
    X.sum_duplicates()
    norms = np.sqrt(np.add.reduceat(X.data**2, X.indptr[:-1]))
    X.data /= np.repeat(norms, np.diff(X.indptr))
    coef = rng.standard_normal((n_classes, n_features)) * logit_scale
    y = _sample_labels(rng, X, coef, rng.standard_normal(n_classes))
    return Dataset(
        f"sparse-{_short(n_train)}x{_short(n_features)}",
        X[:n_train],
        y[:n_train],
        X[n_train:],
        y[n_train:],
        n_classes,
        f"synthetic tf-idf-like CSR, {density:.2%} dense, labels from a random softmax "
        "model, float64",
    )


def make_covertype_like(n_train=12_000, n_test=4_000, *, seed=0):
    """Tabular data shaped like Covertype: 54 features of very different scales, 7 classes.

    Columns: 10 continuous features on their natural, very different scales
    (elevation ~3000 m, aspect 0-360 degrees, slope 0-60, four distances
    0-7000 m, three hillshade indices 0-255), then 4 one-hot "wilderness" and
    40 one-hot "soil" binary columns (44 binary). Labels are drawn from a
    softmax of logits that are *not* linear in the features (each class
    prefers a band of elevation, plus linear and soil/wilderness effects), so a
    linear model cannot reach the Bayes rate, as on the real data. Class
    frequencies are imbalanced, roughly as Covertype's (two large classes, one
    below 1%). Float64, fixed seed.

    Parameters
    ----------
    n_train, n_test : int
    seed : int

    Returns
    -------
    Dataset
    """
    rng = np.random.default_rng(seed)
    n, n_classes = n_train + n_test, 7
    elevation = rng.normal(2960.0, 280.0, n)
    aspect = rng.uniform(0.0, 360.0, n)
    slope = np.clip(rng.gamma(3.0, 4.7, n), 0.0, 66.0)
    distances = np.column_stack(
        [
            rng.gamma(1.5, 180.0, n),  # to water, horizontal
            rng.normal(46.0, 58.0, n),  # to water, vertical (can be negative)
            rng.gamma(1.8, 1300.0, n),  # to roads
            rng.gamma(1.8, 1100.0, n),  # to fire points
        ]
    )
    hillshade = np.clip(rng.normal([212.0, 223.0, 142.0], [27.0, 20.0, 38.0], (n, 3)), 0, 255)
    wilderness = rng.choice(4, size=n, p=[0.45, 0.05, 0.44, 0.06])
    # Soil type depends on wilderness area (as on the real data): a per-area distribution.
    soil_probs = rng.dirichlet(np.full(40, 0.3), size=4)
    soil = np.array([rng.choice(40, p=soil_probs[w]) for w in wilderness])
    continuous = np.column_stack([elevation, aspect, slope, distances, hillshade])
    binary = np.zeros((n, 44))
    binary[np.arange(n), wilderness] = 1.0
    binary[np.arange(n), 4 + soil] = 1.0
    X = np.hstack([continuous, binary])

    # Logits: a preferred elevation band per class (quadratic, not linear in X),
    # linear effects of the standardised continuous features, soil and wilderness
    # effects, and intercepts that make the classes imbalanced.
    z = (continuous - continuous.mean(axis=0)) / continuous.std(axis=0)
    centres = np.array([0.3, -0.1, -1.6, -2.4, 0.0, -1.2, 1.6])
    widths = np.array([0.6, 0.7, 0.6, 0.4, 0.5, 0.6, 0.5])
    logits = -0.5 * ((z[:, [0]] - centres) / widths) ** 2
    logits += z @ (0.4 * rng.standard_normal((10, n_classes)))
    logits += binary @ (0.8 * rng.standard_normal((44, n_classes)))
    logits += np.array([1.4, 1.7, -0.2, -2.6, -1.0, -0.6, -0.5])
    y = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1).astype(np.int64)
    return Dataset(
        f"covertype-like-{_short(n_train)}",
        X[:n_train],
        y[:n_train],
        X[n_train:],
        y[n_train:],
        n_classes,
        "synthetic Covertype-like: 10 continuous features on raw scales (1 to ~7000), "
        "44 one-hot binary columns, 7 imbalanced classes from a non-linear softmax model, "
        "float64",
    )


# -- moving data between processes ---------------------------------------------------
def save_dataset(dataset, folder):
    """Write ``dataset`` to ``folder`` as ``.npy`` files plus ``meta.json``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for part in ("train", "test"):
        X = getattr(dataset, f"X_{part}")
        if sp.issparse(X):
            for attr in ("data", "indices", "indptr"):
                np.save(folder / f"X_{part}.{attr}.npy", getattr(X, attr))
        else:
            np.save(folder / f"X_{part}.npy", X)
        np.save(folder / f"y_{part}.npy", getattr(dataset, f"y_{part}"))
    meta = {
        "name": dataset.name,
        "n_classes": dataset.n_classes,
        "description": dataset.description,
        "sparse": dataset.sparse,
        "shapes": {"train": dataset.X_train.shape, "test": dataset.X_test.shape},
    }
    (folder / "meta.json").write_text(json.dumps(meta))


def load_dataset(folder):
    """Read back what :func:`save_dataset` wrote.

    Returns
    -------
    Dataset
    """
    folder = Path(folder)
    meta = json.loads((folder / "meta.json").read_text())
    parts = {}
    for part in ("train", "test"):
        if meta["sparse"]:
            arrays = [np.load(folder / f"X_{part}.{a}.npy") for a in ("data", "indices", "indptr")]
            parts[part] = sp.csr_matrix(tuple(arrays), shape=tuple(meta["shapes"][part]))
        else:
            parts[part] = np.load(folder / f"X_{part}.npy")
    return Dataset(
        meta["name"],
        parts["train"],
        np.load(folder / "y_train.npy"),
        parts["test"],
        np.load(folder / "y_test.npy"),
        meta["n_classes"],
        meta["description"],
    )


def dataset_fingerprint(dataset):
    """A short hash of the training data (values, structure and labels).

    Used to key cached reference optima: the same data give the same optimum.

    Returns
    -------
    str
    """
    digest = hashlib.blake2b(digest_size=12)
    X = dataset.X_train
    digest.update(repr((dataset.name, X.shape, str(X.dtype), dataset.n_classes)).encode())
    arrays = (X.data, X.indices, X.indptr) if sp.issparse(X) else (X,)
    for array in (*arrays, dataset.y_train):
        digest.update(np.ascontiguousarray(array).view(np.uint8).ravel())
    return digest.hexdigest()


# -- helpers ----------------------------------------------------------------------------
def _sample_labels(rng, X, coef, intercept):
    """Draw ``y ~ softmax(X coef^T + intercept)`` by the Gumbel-max trick, block by block."""
    n = X.shape[0]
    y = np.empty(n, dtype=np.int64)
    block = 50_000
    for start in range(0, n, block):
        logits = np.asarray(X[start : start + block] @ coef.T) + intercept
        logits += rng.gumbel(size=logits.shape)
        y[start : start + block] = np.argmax(logits, axis=1)
    return y


def _pixels_to_float32(images):
    return (images.reshape(len(images), -1).astype(np.float32)) / np.float32(255.0)


def _nbytes(X):
    if sp.issparse(X):
        return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return X.nbytes


def _short(n):
    """``60000 -> '60k'``, ``200000 -> '200k'``, ``1500 -> '1500'``."""
    return f"{n // 1000}k" if n % 1000 == 0 and n >= 1000 else str(n)
