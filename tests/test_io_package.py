"""The io package's import contract and the deprecated ``softmax_classifier.files`` shim."""

import importlib
import subprocess
import sys
import warnings

import pytest

import softmax_classifier.io as sio


def test_formats_and_detect_format_load_neither_numpy_nor_pyarrow():
    """The CLI's --help lists FORMATS and detects formats without the heavy libraries."""
    code = (
        "import sys\n"
        "import softmax_classifier.io as i\n"
        "assert i.FORMATS == ('csv', 'parquet', 'libsvm', 'npz')\n"
        "assert i.detect_format('a.csv.gz') == 'csv'\n"
        "try:\n"
        "    i.detect_format('a.doc')\n"
        "except i.DataFileError:\n"
        "    pass\n"
        "heavy = sorted(m for m in ('numpy', 'scipy', 'pyarrow', 'sklearn') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == ""


def test_heavy_names_load_on_first_use():
    assert set(sio.__all__) <= set(dir(sio))
    for name in sio.__all__:
        assert getattr(sio, name) is not None
    assert sio.MAX_LIBSVM_FEATURES == 2**31 - 1
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        sio.nothing  # noqa: B018


def test_files_shim_warns_and_reexports_the_public_names():
    sys.modules.pop("softmax_classifier.files", None)
    with pytest.warns(DeprecationWarning, match="softmax_classifier.files moved to softmax_cl"):
        files = importlib.import_module("softmax_classifier.files")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # using the names warns no more
        for name in files.__all__:
            assert getattr(files, name) is getattr(sio, name)
    assert set(files.__all__) == set(sio.__all__)
    assert files.detect_format("x.npz") == "npz"
    with pytest.raises(AttributeError):
        files.nothing  # noqa: B018
