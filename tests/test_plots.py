"""Tests of the figures: each writes a real, non-blank PNG, edge cases included.

The figures are checked as files (PNG signature, size, pixels that are not one flat colour)
and, through the private figure builders, as matplotlib objects where a property (a second
panel, a title note, text in the cells) is easier to read there than in pixels.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from softmax_classifier import plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PLOTS_FILE = Path(plots.__file__)

# Matplotlib's own warnings (constrained layout failing, legend placement, ...) are failures.
pytestmark = pytest.mark.filterwarnings("error::UserWarning")


def assert_real_png(path, expected):
    """``path`` is ``expected`` as a Path, and a valid PNG over 1 kB that is not blank."""
    assert isinstance(path, Path)
    assert path == Path(expected)
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 1024
    pixels = imread(path)
    assert pixels.ndim == 3 and pixels.shape[2] in (3, 4)
    assert pixels[..., :3].std() > 0, "the image is a single flat colour"
    return pixels


def texts(figure):
    """Every string drawn on ``figure``'s axes (titles, cell numbers, annotations)."""
    found = []
    for ax in figure.axes:
        found.append(ax.get_title())
        found.extend(text.get_text() for text in ax.texts)
    return found


# --------------------------------------------------------------------------- loss curve


def test_loss_curve_writes_png(tmp_path):
    history = 0.3 + 2.0 * 0.7 ** np.arange(30)
    target = tmp_path / "loss.png"
    assert_real_png(plots.plot_loss_curve(history, target), target)


def test_loss_curve_accepts_str_path_and_creates_folders(tmp_path):
    target = tmp_path / "new" / "folder" / "loss.png"
    out = plots.plot_loss_curve([2.3, 1.0, 0.6], str(target), title="t", xlabel="epoch")
    assert_real_png(out, target)


def test_loss_curve_without_suffix_writes_png_at_that_exact_path(tmp_path):
    target = tmp_path / "loss"
    assert_real_png(plots.plot_loss_curve([1.0, 0.5], target), target)
    assert not (tmp_path / "loss.png").exists()


def test_loss_curve_one_point(tmp_path):
    target = tmp_path / "one.png"
    assert_real_png(plots.plot_loss_curve([0.69], target), target)


def test_loss_curve_drops_non_finite_values_and_says_so(tmp_path):
    history = [2.3, np.nan, 1.1, np.inf, 0.8, -np.inf, 0.7]
    target = tmp_path / "nan.png"
    assert_real_png(plots.plot_loss_curve(history, target), target)
    figure = plots._loss_curve_figure(history, title="Objective", xlabel="iteration")
    assert "3 non-finite values dropped" in figure.axes[0].get_title()
    (line,) = figure.axes[0].get_lines()
    np.testing.assert_array_equal(line.get_xdata(), [0, 2, 4, 6])  # iterations kept
    np.testing.assert_array_equal(line.get_ydata(), [2.3, 1.1, 0.8, 0.7])


def test_loss_curve_only_non_finite_values_still_writes_a_figure(tmp_path):
    target = tmp_path / "diverged.png"
    assert_real_png(plots.plot_loss_curve([np.nan, np.inf], target), target)


def test_loss_curve_empty_history_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        plots.plot_loss_curve([], tmp_path / "empty.png")
    with pytest.raises(ValueError, match="one-dimensional"):
        plots.plot_loss_curve(np.ones((2, 2)), tmp_path / "2d.png")


def test_loss_curve_log_gap_panel_only_when_the_range_is_wide():
    converging = 0.25 + 2.0 * 0.5 ** np.arange(40)  # gap spans ~12 orders of magnitude
    figure = plots._loss_curve_figure(converging, title="t", xlabel="iteration")
    assert len(figure.axes) == 2
    assert figure.axes[1].get_yscale() == "log"
    (gap,) = figure.axes[1].get_lines()
    assert np.all(gap.get_ydata() > 0)  # the zero gap at the minimum is left out

    flat = [1.0, 0.9, 0.85, 0.8]  # gaps within one order of magnitude
    assert len(plots._loss_curve_figure(flat, title="t", xlabel="iteration").axes) == 1


# --------------------------------------------------------------------------- confusion matrix


def test_confusion_matrix_writes_png_with_numbers(tmp_path):
    matrix = np.array([[50, 3, 0], [7, 40, 2], [1, 0, 30]])
    labels = ["cat", "dog", "bird"]
    target = tmp_path / "cm.png"
    assert_real_png(plots.plot_confusion_matrix(matrix, labels, target), target)

    figure = plots._confusion_matrix_figure(matrix, labels, title="CM", normalize=False)
    drawn = texts(figure)
    assert {"50", "3", "0", "40", "30"} <= set(drawn)
    assert any("accuracy 0.9" in text for text in drawn)  # 120 / 133 = 0.902
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == labels
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
    assert len(figure.axes) == 2  # the matrix and its colour bar


def test_confusion_matrix_two_classes_normalized(tmp_path):
    target = tmp_path / "cm2.png"
    out = plots.plot_confusion_matrix([[8, 2], [0, 0]], [0, 1], target, normalize=True)
    assert_real_png(out, target)
    figure = plots._confusion_matrix_figure([[8, 2], [0, 0]], [0, 1], title="t", normalize=True)
    assert {"0.80", "0.20", "0.00"} <= set(texts(figure))  # the empty row stays 0


def test_confusion_matrix_text_colour_contrasts_with_the_cell():
    figure = plots._confusion_matrix_figure([[100, 0], [0, 100]], "ab", title="t", normalize=False)
    colours = {text.get_text(): text.get_color() for text in figure.axes[0].texts}
    assert colours["100"] == "white"  # dark cell
    assert colours["0"] == "black"  # light cell


def test_confusion_matrix_of_many_classes_shows_the_most_confused(tmp_path):
    rng = np.random.default_rng(0)
    matrix = rng.poisson(0.2, (105, 105)) + np.diag(rng.integers(20, 60, 105))
    confused = [7, 50, 99]  # the classes mixed up most, planted
    for i in confused:
        matrix[i, (i + 1) % 105] += 40
    labels = [f"class_{k}" for k in range(105)]
    figure = plots._confusion_matrix_figure(matrix, labels, title="t", normalize=False)
    ax = figure.axes[0]
    shown = [text.get_text() for text in ax.get_yticklabels()]
    assert len(shown) == plots._MAX_SHOWN_CLASSES
    assert all(f"class_{i}" in shown for i in confused)
    assert "30 most confused of 105" in ax.get_title()
    accuracy = np.trace(matrix) / matrix.sum()  # of the whole matrix, not of what is shown
    assert f"accuracy {accuracy:.4g}" in ax.get_title()
    # Sizes stay those of 30 classes whatever the total: 105 and 1,000 give the same figure.
    big = np.diag(np.full(1000, 5))
    big[0, 1] = 1
    size_105 = figure.get_size_inches()
    size_1000 = plots._confusion_matrix_figure(
        big, [str(k) for k in range(1000)], title="t", normalize=False
    ).get_size_inches()
    np.testing.assert_allclose(size_1000, size_105, rtol=0.3)  # label widths differ a little
    target = tmp_path / "cm105.png"
    assert_real_png(plots.plot_confusion_matrix(matrix, labels, target), target)


def test_weights_of_many_classes_are_capped(tmp_path):
    coef = np.random.default_rng(0).standard_normal((250, 4))
    figure = plots._weights_figure(coef, (2, 2), [str(k) for k in range(250)], title="w")
    images = [ax for ax in figure.axes if ax.images]
    assert len(images) == plots._MAX_WEIGHT_PANELS
    assert "first 100 of 250" in figure._suptitle.get_text()


def test_figures_are_written_atomically(tmp_path):
    target = tmp_path / "cm.png"
    target.write_bytes(b"old")
    link = tmp_path / "link.png"
    link.symlink_to(target)
    with pytest.raises(ValueError, match="symbolic link"):
        plots.plot_confusion_matrix(np.eye(2), ["a", "b"], link)
    assert target.read_bytes() == b"old" and link.is_symlink()
    plots.plot_confusion_matrix(np.eye(2), ["a", "b"], target)
    assert target.read_bytes().startswith(PNG_SIGNATURE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cm.png", "link.png"]


def test_confusion_matrix_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="square"):
        plots.plot_confusion_matrix(np.ones((2, 3)), ["a", "b"], tmp_path / "x.png")
    with pytest.raises(ValueError, match="labels"):
        plots.plot_confusion_matrix(np.ones((2, 2)), ["a"], tmp_path / "x.png")
    with pytest.raises(ValueError, match="non-negative"):
        plots.plot_confusion_matrix([[1, -1], [0, 1]], ["a", "b"], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


# --------------------------------------------------------------------------- weights


def test_weights_writes_png(tmp_path):
    rng = np.random.default_rng(0)
    coef = rng.standard_normal((10, 28 * 28))
    coef[3] = 0.0  # an all-zero class must not divide by zero
    target = tmp_path / "w.png"
    out = plots.plot_weights(coef, (28, 28), [f"digit {k}" for k in range(10)], target)
    assert_real_png(out, target)


def test_weights_panels_are_symmetric_per_class_and_titled():
    coef = np.array([[1.0, -2.0, 0.5, 0.0], [10.0, 3.0, -1.0, 2.0], [0.0, 0.0, 0.0, 0.0]])
    figure = plots._weights_figure(coef, "2x2", ["a", "b", "c"], title="W")
    panels = [ax for ax in figure.axes if ax.images]
    assert [ax.get_title() for ax in panels] == ["a", "b", "c"]
    limits = [ax.images[0].get_clim() for ax in panels]
    assert limits == [(-2.0, 2.0), (-10.0, 10.0), (-1.0, 1.0)]
    assert panels[0].images[0].get_cmap().name == "RdBu_r"
    np.testing.assert_array_equal(panels[0].images[0].get_array(), [[1.0, -2.0], [0.5, 0.0]])
    assert not any(ax.axison for ax in panels)


def test_weights_grid_of_many_classes_has_ten_columns(tmp_path):
    coef = np.random.default_rng(1).standard_normal((23, 8 * 4))
    target = tmp_path / "w23.png"
    pixels = assert_real_png(plots.plot_weights(coef, "8x4", list(range(23)), target), target)
    figure = plots._weights_figure(coef, (8, 4), list(range(23)), title="W")
    panels = [ax for ax in figure.axes if ax.images]
    assert len(panels) == 23
    columns = {round(ax.get_position().x0, 3) for ax in panels}
    assert len(columns) == 10
    assert pixels.shape[0] > pixels.shape[1] / 3  # three rows, not one long strip


def test_weights_two_classes(tmp_path):
    target = tmp_path / "w2.png"
    coef = np.arange(2 * 12, dtype=float).reshape(2, 12) - 12
    assert_real_png(plots.plot_weights(coef, (3, 4), ["no", "yes"], target), target)


def test_weights_shape_mismatch_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match=r"784 features .* 28x27 holds 756 pixels"):
        plots.plot_weights(np.zeros((3, 784)), (28, 27), "abc", tmp_path / "w.png")
    with pytest.raises(ValueError, match="labels"):
        plots.plot_weights(np.zeros((3, 4)), (2, 2), ["a", "b"], tmp_path / "w.png")
    with pytest.raises(ValueError, match="n_classes, n_features"):
        plots.plot_weights(np.zeros(4), (2, 2), ["a"], tmp_path / "w.png")
    assert not (tmp_path / "w.png").exists()


# --------------------------------------------------------------------------- image shape


@pytest.mark.parametrize(
    ("text", "expected"),
    [("28x28", (28, 28)), ("28,28", (28, 28)), ("32X16", (32, 16)), (" 8 x 4 ", (8, 4))],
)
def test_parse_image_shape(text, expected):
    assert plots.parse_image_shape(text) == expected


@pytest.mark.parametrize("text", ["28", "28x", "x28", "28x28x3", "-28x28", "2.5x3", "0x28", ""])
def test_parse_image_shape_rejects(text):
    with pytest.raises(ValueError, match="image shape must look like 28x28"):
        plots.parse_image_shape(text)


# --------------------------------------------------------------------------- no pyplot


def test_plots_never_import_pyplot(tmp_path):
    """Load plots.py on its own (it imports nothing from the package), draw every figure,
    and check that matplotlib.pyplot was never imported."""
    script = textwrap.dedent(
        f"""
        import importlib.util, pathlib, sys
        import numpy as np
        spec = importlib.util.spec_from_file_location("plots", {str(PLOTS_FILE)!r})
        plots = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(plots)
        out = pathlib.Path({str(tmp_path)!r})
        plots.plot_loss_curve([2.0, 1.0, 0.5], out / "a.png")
        plots.plot_confusion_matrix([[3, 1], [0, 4]], ["a", "b"], out / "b.png")
        plots.plot_weights(np.ones((2, 4)), plots.parse_image_shape("2x2"), "ab", out / "c.png")
        assert "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert all((tmp_path / name).stat().st_size > 1024 for name in ("a.png", "b.png", "c.png"))


# --------------------------------------------------------------------------- reliability


def test_reliability_diagram_writes_png_with_errors_in_the_title(tmp_path):
    weight = [0, 0, 4, 10, 30, 56]
    accuracy = [None, None, 0.25, 0.5, 0.6, 0.9]
    confidence = [None, None, 0.41, 0.58, 0.75, 0.95]
    target = tmp_path / "reliability.png"
    out = plots.plot_reliability(weight, accuracy, confidence, target, ece=0.0812, mce=0.16)
    assert_real_png(out, target)
    figure = plots._reliability_figure(
        weight, accuracy, confidence, ece=0.0812, mce=0.16, title="Reliability diagram"
    )
    top, bottom = figure.axes
    assert "ECE 0.0812" in top.get_title() and "MCE 0.1600" in top.get_title()
    assert "100 rows in 6 bins" in top.get_title()
    assert top.get_xlabel() == "" and bottom.get_xlabel().startswith("confidence")
    assert top.get_ylabel() == "accuracy" and bottom.get_ylabel() == "rows"
    legend = [text.get_text() for text in top.get_legend().get_texts()]
    assert legend == ["perfectly calibrated", "accuracy of the bin", "gap to its mean confidence"]
    (diagonal,) = top.get_lines()
    np.testing.assert_array_equal(diagonal.get_xydata(), [[0, 0], [1, 1]])
    heights = [bar.get_height() for bar in top.containers[0]]
    np.testing.assert_allclose(heights, [0.25, 0.5, 0.6, 0.9])  # empty bins drawn as nothing
    np.testing.assert_allclose([bar.get_height() for bar in bottom.patches], weight)


def test_reliability_diagram_of_no_rows_and_bad_input(tmp_path):
    target = tmp_path / "empty.png"
    out = plots.plot_reliability([0, 0], [None, None], [np.nan, np.nan], target)
    assert out.read_bytes()[:8] == PNG_SIGNATURE
    with pytest.raises(ValueError, match="one value per bin"):
        plots.plot_reliability([1, 2], [0.5], [0.5, 0.6], tmp_path / "x.png")
    with pytest.raises(ValueError, match="non-negative"):
        plots.plot_reliability([1, -2], [0.5, 0.5], [0.5, 0.6], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
