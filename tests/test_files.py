"""Tests of the data-file readers: every format written small into tmp_path and read back."""

import bz2
import gzip
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp

from softmax_classifier.io import FORMATS, DataFileError, Dataset, detect_format, read_data


def write(folder, name, text):
    path = folder / name
    path.write_text(text)
    return path


IRIS_CSV = "length,width,species\n5.1,3.5,setosa\n6.2,2.9,versicolor\n7.7,3.0,virginica\n"


# ------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.csv", "csv"),
        ("A.CSV.GZ", "csv"),
        ("a.csv.bz2", "csv"),
        ("a.parquet", "parquet"),
        ("a.pq", "parquet"),
        ("a.npz", "npz"),
        ("a.svm", "libsvm"),
        ("a.svmlight", "libsvm"),
        ("a.libsvm", "libsvm"),
        ("a.txt", "libsvm"),
        ("a.scale", "libsvm"),
        ("a9a.t", "libsvm"),
        ("a.tr", "libsvm"),
        ("a.val", "libsvm"),
        ("a.t.bz2", "libsvm"),
        ("a.svm.gz", "libsvm"),
    ],
)
def test_detect_format_by_extension(name, expected):
    assert detect_format(name) == expected
    assert expected in FORMATS


def test_detect_format_directory_is_parquet(tmp_path):
    assert detect_format(tmp_path) == "parquet"


@pytest.mark.parametrize("name", ["data.xlsx", "data", "data.npz.gz", "data.gz"])
def test_unknown_extension(name):
    with pytest.raises(DataFileError, match=r"supported formats are csv.*format=") as info:
        detect_format(name)
    assert "\n" not in str(info.value)


def test_unknown_extension_in_read_data_and_forced_format(tmp_path):
    path = write(tmp_path, "iris.data", IRIS_CSV)
    with pytest.raises(DataFileError, match="supported formats"):
        read_data(path)
    data = read_data(path, format="csv", target="species")
    assert data.format == "csv"
    assert data.X.shape == (3, 2)
    with pytest.raises(DataFileError, match="unknown format 'xls'"):
        read_data(path, format="xls")


def test_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(DataFileError, match=r"cannot read .*nope\.csv: no such file"):
        read_data(path)
    with pytest.raises(DataFileError, match="no such file"):
        read_data(path, format="npz")


def test_bad_arguments(tmp_path):
    path = write(tmp_path, "iris.csv", IRIS_CSV)
    with pytest.raises(ValueError, match="dtype"):
        read_data(path, dtype=np.int64)
    with pytest.raises(ValueError, match="n_features"):
        read_data(path, n_features=0)


# ----------------------------------------------------------------------------- CSV


def test_csv_string_labels(tmp_path):
    path = write(tmp_path, "iris.csv", IRIS_CSV)
    data = read_data(path, target="species", require_target=True)
    assert isinstance(data, Dataset)
    assert data.format == "csv"
    assert data.path == str(path)
    assert data.X.dtype == np.float64
    assert data.X.flags.c_contiguous
    np.testing.assert_array_equal(data.X, [[5.1, 3.5], [6.2, 2.9], [7.7, 3.0]])
    assert data.y.dtype.kind == "U"
    assert data.y.tolist() == ["setosa", "versicolor", "virginica"]
    assert data.feature_names == ["length", "width"]


@pytest.mark.parametrize(
    ("column", "dtype", "values"),
    [
        ("3\n-1\n3", np.int64, [3, -1, 3]),
        ("0.5\n1.5\n0.5", np.float64, [0.5, 1.5, 0.5]),
        ("true\nfalse\ntrue", np.bool_, [True, False, True]),
        ("07\n1\n2", np.int64, [7, 1, 2]),
    ],
)
def test_csv_label_types_are_kept(tmp_path, column, dtype, values):
    rows = column.split("\n")
    text = "label,a\n" + "".join(f"{label},{i}\n" for i, label in enumerate(rows))
    data = read_data(write(tmp_path, "d.csv", text), target="label")
    assert data.y.dtype == dtype
    assert data.y.tolist() == values
    np.testing.assert_array_equal(data.X, [[0.0], [1.0], [2.0]])
    assert data.feature_names == ["a"]


def test_csv_gzip(tmp_path):
    path = tmp_path / "iris.csv.gz"
    path.write_bytes(gzip.compress(IRIS_CSV.encode()))
    data = read_data(path, target="species")
    assert data.X.shape == (3, 2)
    assert data.y[2] == "virginica"


def test_csv_integers_and_booleans_are_numeric(tmp_path):
    path = write(tmp_path, "d.csv", "n,flag,y\n1,true,a\n-2,false,b\n")
    data = read_data(path, target="y")
    np.testing.assert_array_equal(data.X, [[1.0, 1.0], [-2.0, 0.0]])
    assert data.X.dtype == np.float64


def test_features_selection_and_order(tmp_path):
    path = write(tmp_path, "d.csv", "a,b,c,label,city\n1,2,3,x,Paris\n4,5,6,y,Rome\n")
    data = read_data(path, target="label", features=["c", "a"])
    np.testing.assert_array_equal(data.X, [[3.0, 1.0], [6.0, 4.0]])
    assert data.feature_names == ["c", "a"]
    assert data.y.tolist() == ["x", "y"]


def test_features_not_found(tmp_path):
    path = write(tmp_path, "d.csv", "a,b,c,label\n1,2,3,x\n")
    with pytest.raises(DataFileError, match=r"not found in .*: d, e; columns are: a, b, c, label"):
        read_data(path, target="label", features=["a", "d", "e"])


def test_target_listed_in_features(tmp_path):
    path = write(tmp_path, "d.csv", "a,label\n1,0\n")
    with pytest.raises(DataFileError, match="'label' is also listed in features"):
        read_data(path, target="label", features=["a", "label"])


def test_target_missing_required(tmp_path):
    path = write(tmp_path, "data.csv", "a,b,c\n1,2,3\n")
    expected = r"column 'label' not found in .*data\.csv; columns are: a, b, c$"
    with pytest.raises(DataFileError, match=expected):
        read_data(path, target="label", require_target=True)


def test_target_missing_not_required_is_prediction_data(tmp_path):
    path = write(tmp_path, "data.csv", "a,b,c\n1,2,3\n")
    data = read_data(path, target="label")
    assert data.y is None
    assert data.feature_names == ["a", "b", "c"]
    np.testing.assert_array_equal(data.X, [[1.0, 2.0, 3.0]])


def test_target_not_given_but_required(tmp_path):
    path = write(tmp_path, "data.csv", "a,b\n1,2\n")
    with pytest.raises(DataFileError, match=r"--target"):
        read_data(path, require_target=True)
    data = read_data(path)
    assert data.y is None
    assert data.X.shape == (1, 2)


def test_long_column_lists_are_cut(tmp_path):
    header = ",".join(f"c{i}" for i in range(30))
    path = write(tmp_path, "wide.csv", header + "\n" + ",".join(["1"] * 30) + "\n")
    with pytest.raises(DataFileError, match=r"c19, \.\.\. \(10 more\)$"):
        read_data(path, target="label", require_target=True)


def test_non_numeric_columns_named(tmp_path):
    text = "a,colour,b,city,when,label\n1,red,2,Paris,2020-01-01,x\n3,blue,4,Rome,2021-02-03,y\n"
    path = write(tmp_path, "d.csv", text)
    with pytest.raises(
        DataFileError,
        match=r"non-numeric feature columns in .*: colour, city, when; pass features=",
    ):
        read_data(path, target="label")
    data = read_data(path, target="label", features=["a", "b"])
    assert data.X.shape == (2, 2)


def test_non_numeric_column_with_a_typo_names_the_row(tmp_path):
    path = write(tmp_path, "d.csv", "a,b,label\n1,2,x\n3,4..5,y\n5,,z\n")
    with pytest.raises(DataFileError, match=r"columns in .*: b; .*'b' has text '4\.\.5' at row 2"):
        read_data(path, target="label")


@pytest.mark.parametrize(
    ("cell", "problem"),
    [("", "NaN or missing value"), ("NaN", "NaN or missing value"), ("inf", "infinite value")],
)
def test_csv_bad_value_names_row_and_column(tmp_path, cell, problem):
    rows = [f"{i},{i + 0.5},k{i % 2}" for i in range(20)]
    rows[16] = f"16,{cell},k0"  # the 17th data row
    path = write(tmp_path, "data.csv", "a,b,label\n" + "\n".join(rows) + "\n")
    expected = rf"^{problem} in column 'b' at row 17 of .*data\.csv$"
    with pytest.raises(DataFileError, match=expected):
        read_data(path, target="label")


def test_first_bad_row_wins_across_columns(tmp_path):
    path = write(tmp_path, "d.csv", "a,b,c\n1,2,3\n4,5,-inf\n7,,9\n")
    with pytest.raises(DataFileError, match="infinite value in column 'c' at row 2 "):
        read_data(path)
    path = write(tmp_path, "e.csv", "a,b,c\n1,2,3\n4,5,6\n,,9\n")
    with pytest.raises(DataFileError, match="missing value in column 'a' at row 3 "):
        read_data(path)


def test_missing_label_names_row(tmp_path):
    path = write(tmp_path, "d.csv", "a,label\n1,x\n2,\n3,y\n")
    with pytest.raises(DataFileError, match=r"missing label in column 'label' at row 2 of"):
        read_data(path, target="label")
    path = write(tmp_path, "e.csv", "a,label\n1,1\n2,2\n3,NaN\n")
    with pytest.raises(DataFileError, match=r"missing label in column 'label' at row 3 of"):
        read_data(path, target="label")


def test_csv_zero_rows(tmp_path):
    path = write(tmp_path, "head.csv", "a,b,label\n")
    with pytest.raises(DataFileError, match=r"no data rows in .*head\.csv"):
        read_data(path, target="label")


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "Empty CSV file"), ("a,b\n1,2\n3\n", "Expected 2 columns, got 1")],
)
def test_csv_unparsable(tmp_path, text, reason):
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(DataFileError, match=rf"cannot read .*bad\.csv: .*{reason}") as info:
        read_data(path)
    assert "\n" not in str(info.value)


def test_duplicate_columns(tmp_path):
    path = write(tmp_path, "d.csv", "a,a,b\n1,2,3\n")
    with pytest.raises(DataFileError, match=r"duplicate column names in .*: a$"):
        read_data(path)


def test_directory_given_as_csv(tmp_path):
    with pytest.raises(DataFileError, match=r"cannot read .*: it is a directory"):
        read_data(tmp_path, format="csv")


def test_n_features_must_match_for_columns(tmp_path):
    path = write(tmp_path, "iris.csv", IRIS_CSV)
    assert read_data(path, target="species", n_features=2).X.shape == (3, 2)
    with pytest.raises(DataFileError, match="has 2 feature columns but n_features=3"):
        read_data(path, target="species", n_features=3)


def test_csv_float32(tmp_path):
    path = write(tmp_path, "iris.csv", IRIS_CSV)
    data = read_data(path, target="species", dtype=np.float32)
    assert data.X.dtype == np.float32
    np.testing.assert_array_equal(data.X, np.float32([[5.1, 3.5], [6.2, 2.9], [7.7, 3.0]]))
    path = write(tmp_path, "big.csv", "a,b\n1,2\n3,1e39\n")
    with pytest.raises(DataFileError, match="too large for float32 in column 'b' at row 2"):
        read_data(path, dtype=np.float32)
    assert read_data(path).X[1, 1] == 1e39


# ------------------------------------------------------------------------- Parquet


def parquet_table(offset=0):
    return pa.table(
        {
            "x1": pa.array([1.0, 2.0, 3.0]) + offset,
            "x2": pa.array([10, 20, 30], pa.int32()),
            "flag": [True, False, True],
            "label": ["cat", "dog", "cat"],
        }
    )


def test_parquet_file(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(parquet_table(), path)
    data = read_data(path, target="label", require_target=True)
    assert data.format == "parquet"
    np.testing.assert_array_equal(data.X, [[1, 10, 1], [2, 20, 0], [3, 30, 1]])
    assert data.X.dtype == np.float64
    assert data.y.tolist() == ["cat", "dog", "cat"]
    assert data.y.dtype.kind == "U"
    assert data.feature_names == ["x1", "x2", "flag"]

    data = read_data(path, target="label", features=["x2"], dtype=np.float32)
    assert data.X.dtype == np.float32
    np.testing.assert_array_equal(data.X, [[10], [20], [30]])


def test_parquet_label_types(tmp_path):
    path = tmp_path / "d.pq"
    table = pa.table(
        {
            "x": [0.5, 1.5],
            "small": pa.array([2, 7], pa.int8()),
            "real": [0.25, 1.0],
            "yes": [False, True],
            "cat": pa.array(["b", "a"]).dictionary_encode(),
        }
    )
    pq.write_table(table, path)
    small = read_data(path, target="small", features=["x"]).y
    assert small.dtype == np.int64
    assert small.tolist() == [2, 7]
    assert read_data(path, target="real", features=["x"]).y.tolist() == [0.25, 1.0]
    assert read_data(path, target="yes", features=["x"]).y.dtype == np.bool_
    assert read_data(path, target="cat", features=["x"]).y.tolist() == ["b", "a"]
    with pytest.raises(DataFileError, match=r"non-numeric feature columns in .*: cat"):
        read_data(path, target="real")


def test_parquet_missing_value_and_label(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"a": [1.0, 2.0, None], "b": [1.0, np.nan, 3.0], "y": [1, 2, 3]}), path)
    with pytest.raises(
        DataFileError, match=r"missing value in column 'b' at row 2 of .*d\.parquet$"
    ):
        read_data(path, target="y")
    pq.write_table(pa.table({"a": [1.0, 2.0], "y": ["u", None]}), path)
    with pytest.raises(DataFileError, match="missing label in column 'y' at row 2"):
        read_data(path, target="y")


def test_parquet_target_missing(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"a": [1.0], "b": [2.0]}), path)
    with pytest.raises(DataFileError, match=r"column 'label' not found in .*; columns are: a, b$"):
        read_data(path, target="label", require_target=True)
    assert read_data(path, target="label").y is None


def test_parquet_pandas_index_is_not_a_feature(tmp_path):
    pd = pytest.importorskip("pandas")
    path = tmp_path / "d.parquet"
    pd.DataFrame({"a": [1.0, 2.0], "y": [0, 1]}, index=[10, 20]).to_parquet(path)
    data = read_data(path, target="y")
    assert data.feature_names == ["a"]
    np.testing.assert_array_equal(data.X, [[1.0], [2.0]])


def test_parquet_directory(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    pq.write_table(parquet_table(), folder / "part-0.parquet")
    pq.write_table(parquet_table(offset=100), folder / "part-1.parquet")
    (folder / "_SUCCESS").write_text("")
    data = read_data(folder, target="label")
    assert data.format == "parquet"
    assert data.X.shape == (6, 3)
    np.testing.assert_array_equal(data.X[:, 0], [1, 2, 3, 101, 102, 103])
    assert data.y.tolist() == ["cat", "dog", "cat"] * 2


def test_parquet_directory_names_the_file_of_a_bad_row(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    pq.write_table(pa.table({"a": [1.0, 2.0]}), folder / "part-0.parquet")
    pq.write_table(pa.table({"a": [3.0, np.inf]}), folder / "part-1.parquet")
    expected = r"infinite value in column 'a' at row 2 of .*part-1\.parquet \(row 4 of .*parts\)"
    with pytest.raises(DataFileError, match=expected):
        read_data(folder)


def test_directory_of_csvs_as_parquet(tmp_path):
    folder = tmp_path / "csvs"
    folder.mkdir()
    write(folder, "a.csv", IRIS_CSV)
    write(folder, "b.csv", IRIS_CSV)
    with pytest.raises(DataFileError, match=r"cannot read .*csvs: .*[Pp]arquet") as info:
        read_data(folder, target="species")
    assert "\n" not in str(info.value)


def test_empty_directory(tmp_path):
    with pytest.raises(DataFileError, match="no Parquet files in directory"):
        read_data(tmp_path)


def test_csv_named_parquet(tmp_path):
    path = write(tmp_path, "fake.parquet", IRIS_CSV)
    with pytest.raises(DataFileError, match=r"cannot read .*fake\.parquet"):
        read_data(path)


def test_parquet_zero_rows(tmp_path):
    path = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"a": pa.array([], pa.float64()), "y": pa.array([], pa.int64())}), path)
    with pytest.raises(DataFileError, match="no data rows in"):
        read_data(path, target="y")


# -------------------------------------------------------------------------- LIBSVM

LIBSVM_TEXT = "1 1:0.5 3:2\n-1 2:1.5\n# a comment\n2 1:-1 4:0.25\n"
LIBSVM_DENSE = [[0.5, 0, 2, 0], [0, 1.5, 0, 0], [-1, 0, 0, 0.25]]


def test_libsvm_text(tmp_path):
    path = write(tmp_path, "d.svm", LIBSVM_TEXT)
    data = read_data(path, target="ignored", require_target=True)
    assert data.format == "libsvm"
    assert sp.issparse(data.X)
    assert data.X.format == "csr"
    assert data.X.dtype == np.float64
    np.testing.assert_array_equal(data.X.toarray(), LIBSVM_DENSE)
    assert data.y.dtype == np.int64
    assert data.y.tolist() == [1, -1, 2]
    # Named after the file's own (one-based) indices.
    assert data.feature_names == ["1", "2", "3", "4"]


def test_libsvm_bz2_and_float32(tmp_path):
    path = tmp_path / "d.t.bz2"
    path.write_bytes(bz2.compress(LIBSVM_TEXT.encode()))
    data = read_data(path, dtype=np.float32)
    assert data.X.dtype == np.float32
    np.testing.assert_array_equal(data.X.toarray(), np.float32(LIBSVM_DENSE))
    assert data.y.tolist() == [1, -1, 2]


def test_libsvm_float_labels(tmp_path):
    data = read_data(write(tmp_path, "d.txt", "0.5 1:1\n2 1:2\n"))
    assert data.y.dtype == np.float64
    assert data.y.tolist() == [0.5, 2.0]


def test_libsvm_n_features(tmp_path):
    path = write(tmp_path, "d.svm", LIBSVM_TEXT)
    data = read_data(path, n_features=6)
    assert data.X.shape == (3, 6)
    np.testing.assert_array_equal(data.X.toarray()[:, :4], LIBSVM_DENSE)
    assert data.X[:, 4:].nnz == 0
    with pytest.raises(DataFileError, match=r"uses feature index 4 but n_features=3"):
        read_data(path, n_features=3)


def test_libsvm_features_select_by_index_name(tmp_path):
    path = write(tmp_path, "d.svm", LIBSVM_TEXT)
    data = read_data(path, features=["4", "1"])
    assert data.feature_names == ["4", "1"]
    np.testing.assert_array_equal(data.X.toarray(), np.asarray(LIBSVM_DENSE)[:, [3, 0]])
    with pytest.raises(DataFileError, match=r"not found in .*: a; its features are .* 1 to 4"):
        read_data(path, features=["a"])


@pytest.mark.parametrize("text", ["", "# nothing but a comment\n\n"])
def test_libsvm_zero_rows(tmp_path, text):
    with pytest.raises(DataFileError, match=r"no data rows in .*e\.svm"):
        read_data(write(tmp_path, "e.svm", text))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1 1:abc\n", "could not convert string to float"),
        ("cat 1:1\n", "could not convert string to float"),
        ("1 3:1 2:1\n", "sorted and unique"),
        ("1 2:1\n1 0:1 2:1\n", r"feature index 0 at row 2, but zero_based=False"),
    ],
)
def test_libsvm_unparsable(tmp_path, text, reason):
    path = write(tmp_path, "bad.svm", text)
    with pytest.raises(DataFileError, match=rf"cannot read .*bad\.svm: .*{reason}"):
        read_data(path, zero_based=False)


def test_libsvm_corrupt_bz2(tmp_path):
    path = tmp_path / "bad.svm.bz2"
    path.write_bytes(b"not bzip2 at all")
    with pytest.raises(DataFileError, match=r"cannot read .*bad\.svm\.bz2: Invalid data stream"):
        read_data(path)


def test_libsvm_non_finite(tmp_path):
    path = write(tmp_path, "d.svm", "1 1:1\n2 2:1 3:nan\n")
    with pytest.raises(DataFileError, match=r"NaN value for feature 3 at row 2 of"):
        read_data(path)
    path = write(tmp_path, "e.svm", "1 1:1\nnan 2:1\n")
    with pytest.raises(DataFileError, match=r"NaN label at row 2 of"):
        read_data(path)


# ----------------------------------------------------------------------------- npz


def test_npz(tmp_path):
    path = tmp_path / "d.npz"
    X = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.savez(path, X=X, y=np.array(["no", "yes"]), feature_names=np.array(["a", "b", "c"]))
    data = read_data(path, require_target=True)
    assert data.format == "npz"
    np.testing.assert_array_equal(data.X, X)
    assert data.X.dtype == np.float64
    assert data.y.tolist() == ["no", "yes"]
    assert data.feature_names == ["a", "b", "c"]

    data = read_data(path, features=["c", "a"], dtype=np.float32)
    assert data.X.dtype == np.float32
    np.testing.assert_array_equal(data.X, [[3, 1], [6, 4]])
    assert data.feature_names == ["c", "a"]


def test_npz_without_names_and_labels(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.arange(6, dtype=np.int32).reshape(3, 2))
    data = read_data(path)
    assert data.X.dtype == np.float64
    np.testing.assert_array_equal(data.X, [[0, 1], [2, 3], [4, 5]])
    assert data.y is None
    assert data.feature_names is None
    with pytest.raises(DataFileError, match=r"no labels \(array 'y'\) in .*; arrays are: X"):
        read_data(path, require_target=True)
    with pytest.raises(DataFileError, match="needs a 'feature_names' array"):
        read_data(path, features=["a"])


def test_npz_integer_labels(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.zeros((3, 1)), y=np.array([3, 1, 3], dtype=np.uint8))
    y = read_data(path).y
    assert y.dtype == np.int64
    assert y.tolist() == [3, 1, 3]


def test_npz_without_X(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, data=np.zeros((2, 2)), y=np.zeros(2))
    with pytest.raises(DataFileError, match=r"no array 'X' in .*d\.npz; arrays are: data, y$"):
        read_data(path)


def test_npz_object_array(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.zeros((2, 2)), y=np.array([1, "a"], dtype=object))
    with pytest.raises(DataFileError, match=r"array 'y' in .* holds Python objects"):
        read_data(path)


def test_npz_non_finite(tmp_path):
    path = tmp_path / "d.npz"
    X = np.ones((3, 4))
    X[2, 1] = np.nan
    X[2, 3] = np.inf
    np.savez(path, X=X)
    with pytest.raises(DataFileError, match=r"NaN value in X at row 2, column 1 \(0-based\)"):
        read_data(path)


def test_npz_bad_shapes(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.zeros(3))
    with pytest.raises(DataFileError, match="must be 2-D"):
        read_data(path)
    np.savez(path, X=np.zeros((3, 2)), y=np.zeros(2))
    with pytest.raises(DataFileError, match=r"'y' in .* must have shape \(3,\)"):
        read_data(path)
    np.savez(path, X=np.zeros((3, 2)), feature_names=np.array(["a"]))
    with pytest.raises(DataFileError, match=r"'feature_names' in .* must be 2 strings"):
        read_data(path)


def test_npz_zero_rows(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.zeros((0, 3)))
    with pytest.raises(DataFileError, match="no data rows in"):
        read_data(path)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "No data left in file"),
        (b"a,b\n1,2\n", r"not an \.npz \(zip\) archive"),
        (b"PK\x03\x04truncated", "File is not a zip file"),
    ],
)
def test_npz_not_an_archive(tmp_path, content, reason):
    path = tmp_path / "d.npz"
    path.write_bytes(content)
    with pytest.raises(DataFileError, match=f"^cannot read {re.escape(str(path))}: {reason}$"):
        read_data(path)


def test_npy_named_npz(tmp_path):
    path = tmp_path / "d.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros((2, 2)))
    with pytest.raises(DataFileError, match=r"single .npy array"):
        read_data(path)


# ------------------------------------------------ LIBSVM indices from 0 or 1 (issue 10)


def test_libsvm_zero_based_file_from_scikit_learn_is_detected(tmp_path):
    from sklearn.datasets import dump_svmlight_file

    X = np.array([[1.5, 0.0, 2.0], [0.0, -1.0, 0.0], [3.0, 0.0, 0.5]])
    y = np.array([0, 1, 2])
    zero, one = tmp_path / "zero.svm", tmp_path / "one.svm"
    dump_svmlight_file(X, y, str(zero))  # zero_based=True is scikit-learn's default
    dump_svmlight_file(X, y, str(one), zero_based=False)
    for path, first_name in ((zero, "0"), (one, "1")):
        data = read_data(path)
        np.testing.assert_array_equal(data.X.toarray(), X)
        assert data.feature_names == [
            first_name,
            str(int(first_name) + 1),
            str(int(first_name) + 2),
        ]
    # Asked explicitly, the other convention moves every column by one.
    shifted = read_data(one, zero_based=True)
    assert shifted.X.shape == (3, 4) and shifted.X[:, 0].nnz == 0
    assert shifted.feature_names[:2] == ["0", "1"]
    np.testing.assert_array_equal(shifted.X.toarray()[:, 1:], X)


def test_libsvm_zero_based_auto_needs_an_index_zero(tmp_path):
    # As in scikit-learn: "auto" is one-based unless the index 0 occurs.
    data = read_data(write(tmp_path, "d.svm", "1 1:2\n2 2:3\n"), zero_based="auto")
    assert data.feature_names == ["1", "2"]
    np.testing.assert_array_equal(data.X.toarray(), [[2, 0], [0, 3]])


def test_libsvm_zero_based_values_checked(tmp_path):
    path = write(tmp_path, "d.svm", LIBSVM_TEXT)
    for bad in ("yes", 1, None):
        with pytest.raises(ValueError, match=r'zero_based must be "auto", True or False'):
            read_data(path, zero_based=bad)


def test_libsvm_zero_based_names_in_messages(tmp_path):
    path = write(tmp_path, "d.svm", "1 0:1\n2 3:nan\n")
    with pytest.raises(DataFileError, match=r"NaN value for feature 3 at row 2"):
        read_data(path)


# ------------------------------------------- huge allocations from small files (issue 10)


def test_libsvm_index_beyond_int32_is_refused_with_the_limit(tmp_path):
    path = write(tmp_path, "big.svm", "1 1:0.5 2147483648:1\n2 2:1.5\n")
    with pytest.raises(DataFileError, match=r"above the limit of 2147483647 columns") as info:
        read_data(path)
    assert "\n" not in str(info.value)


def test_libsvm_zero_based_index_at_int32_max_is_refused(tmp_path):
    # Index 2**31 - 1 from 0 needs 2**31 columns: one more than int32 can count.
    path = write(tmp_path, "big.svm", "1 0:0.5 2147483647:1\n")
    with pytest.raises(DataFileError, match=r"feature index 2147483647, above the limit"):
        read_data(path)
    # From 1, the same index is the last allowed column.
    data = read_data(write(tmp_path, "edge.svm", "1 2147483647:1\n"))
    assert data.X.shape == (1, 2147483647) and data.X.nnz == 1


def _npz_claiming(tmp_path, shape_text):
    """A tiny, well-formed .npz whose X header claims ``shape_text`` (the data: 6 float64)."""
    import io
    import zipfile

    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.zeros((2, 3)))
    raw = buffer.getvalue()
    old = b"'shape': (2, 3), }"
    new = b"'shape': " + shape_text + b", }"
    # The header is padded with spaces up to its newline: take the room from them.
    start = raw.index(old)
    end = raw.index(b"\n", start)
    assert len(new) <= end - start
    raw = raw[:start] + new + b" " * (end - start - len(new)) + raw[end:]
    path = tmp_path / "claim.npz"
    with zipfile.ZipFile(path, "w") as archive:  # valid CRCs: a deliberate, not a damaged, file
        archive.writestr("X.npy", raw)
    return path


def test_npz_header_claiming_terabytes_is_refused_before_allocating(tmp_path):
    import resource

    path = _npz_claiming(tmp_path, b"(300000000000, 1)")  # 2.4e12 bytes = 2.18 TiB
    assert path.stat().st_size < 1000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(DataFileError, match=r"claims shape \(300000000000, 1\) .*2\.18 TiB"):
        read_data(path)
    # Nothing near the claim was touched: peak RSS grew by less than 50 MiB (ru_maxrss in
    # KiB; the bound only separates "allocated nothing" from "allocated the claim").
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024


def test_npz_header_with_a_modest_false_shape_is_refused(tmp_path):
    path = _npz_claiming(tmp_path, b"(2, 300)")  # 4.7 KiB claimed, 48 bytes held
    with pytest.raises(DataFileError, match=r"'X' .* claims shape \(2, 300\).*holds 48 bytes"):
        read_data(path)


# ------------------------------------------------------------- CSV options (issue 10)


def test_csv_without_header_names_columns_from_one(tmp_path):
    path = write(tmp_path, "d.csv", "5.1,3.5,setosa\n6.2,2.9,versicolor\n")
    data = read_data(path, header=False, target="3", require_target=True)
    assert data.feature_names == ["1", "2"]
    np.testing.assert_array_equal(data.X, [[5.1, 3.5], [6.2, 2.9]])
    assert data.y.tolist() == ["setosa", "versicolor"]


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("0,0,1,0,1\n1,0,0,1,0\n", "label"),  # repeated numbers: "duplicate column names" before
        ("5.1,3.5,1.4,0\n6.2,2.9,4.3,1\n", "label"),  # all numbers: "column not found" before
    ],
)
def test_csv_first_line_of_data_is_not_taken_for_a_header(tmp_path, text, target):
    path = write(tmp_path, "d.csv", text)
    with pytest.raises(DataFileError, match=r"looks like data, not a header: use --no-header"):
        read_data(path, target=target, require_target=True)


def test_csv_with_numeric_names_and_a_real_header_is_read(tmp_path):
    path = write(tmp_path, "d.csv", "1,2,label,name\n0.5,1.5,a,b\n")
    assert read_data(path, target="label", drop=["name"]).feature_names == ["1", "2"]


def test_csv_drop_columns(tmp_path):
    path = write(tmp_path, "d.csv", "id,length,width,species\n1,5.1,3.5,a\n2,6.2,2.9,b\n")
    data = read_data(path, target="species", drop=["id"])
    assert data.feature_names == ["length", "width"]
    np.testing.assert_array_equal(data.X, [[5.1, 3.5], [6.2, 2.9]])
    with pytest.raises(
        DataFileError, match=r"columns to drop not found .*: ID \(did you mean 'id'\?\)"
    ):
        read_data(path, target="species", drop=["ID"])
    with pytest.raises(DataFileError, match=r"target column 'species' is also listed in drop"):
        read_data(path, target="species", drop=["species"])
    with pytest.raises(DataFileError, match=r"drop=... \(--drop\) selects columns of CSV"):
        read_data(write(tmp_path, "d.svm", LIBSVM_TEXT), drop=["1"])


def test_mistyped_target_says_did_you_mean_even_past_the_listing(tmp_path):
    names = [f"pixel_{j}" for j in range(40)] + ["species"]
    text = ",".join(names) + "\n" + ",".join(["0"] * 40 + ["a"]) + "\n"
    path = write(tmp_path, "d.csv", text)
    with pytest.raises(DataFileError, match=r"'specis' not found .*\(did you mean 'species'\?\)"):
        read_data(path, target="specis", require_target=True)
    with pytest.raises(DataFileError, match=r": pixel_x3 \(did you mean 'pixel_3'\?\)"):
        read_data(path, target="species", features=["pixel_1", "pixel_x3"])
