"""The model file and its run folder (``metrics.json``, figures), written together or not at all.

Outputs are checked before any data is read (:func:`check_outputs`) and written
after the fit through temporaries renamed into place (:func:`write_model_and_run`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from softmax_classifier.cli._common import CommandError, unit
from softmax_classifier.cli._sparsity import model_sparsity

__all__ = ["RUN_FILES", "check_folder", "check_outputs", "draw_scores", "write_model_and_run"]

#: The files ``softmax train`` writes in its run folder.
RUN_FILES = (
    "metrics.json",
    "loss_curve.png",
    "confusion_matrix.png",
    "reliability.png",
    "weights.png",
)


def check_outputs(output, run_dir):
    """Refuse, before any work, outputs that cannot be written safely.

    The model path must be a regular file or new, in a writable folder; the run
    folder must be a folder (or creatable in a writable one), and the files
    ``train`` writes in it regular files or new.

    Parameters
    ----------
    output : pathlib.Path
        The model file.
    run_dir : pathlib.Path
        The run folder.

    Raises
    ------
    ValueError
        (:class:`CommandError` or the atomic writer's error) naming what is wrong.
    """
    from softmax_classifier._atomic import check_output_path

    check_output_path(output)
    check_folder(run_dir, RUN_FILES, "run folder")


def check_folder(folder, names, what):
    """Refuse a folder of outputs that cannot be written: a file, unwritable, or bad entries.

    Parameters
    ----------
    folder : pathlib.Path
        A folder, or a new one to be made (its nearest existing parent must be a
        writable folder).
    names : sequence of str
        The files to be written in it: each must be a regular file or new.
    what : str
        How messages name the folder (``"run folder"``).

    Raises
    ------
    ValueError
        (:class:`CommandError` or the atomic writer's error) naming what is wrong.
    """
    from softmax_classifier._atomic import check_output_path

    if folder.exists() or folder.is_symlink():
        if not folder.is_dir():
            raise CommandError(f"the {what} {folder} exists and is not a folder")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise CommandError(f"cannot write into the {what} {folder}: permission denied")
        for name in names:
            if (folder / name).exists() or (folder / name).is_symlink():
                check_output_path(folder / name)
        return
    parent = folder.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise CommandError(f"cannot create the {what} {folder}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CommandError(f"cannot create the {what} {folder}: {parent} is not writable")


def write_model_and_run(model, output, run_dir, metrics, image_shape):
    """Write the run folder's files and the model so that they appear together or not at all.

    Everything is written first to temporary names beside the targets (the
    figures in a hidden folder next to the run folder, the model in a hidden
    file next to it); only when all of it succeeded are the files renamed into
    place, the model last. A failure before that leaves the old model and run
    folder exactly as they were; renames do not fail for lack of space, and a
    kill between them leaves at worst the new run files beside the old model.
    Temporaries of killed runs are removed by the next run writing there.

    Parameters
    ----------
    model : SoftmaxClassifier
        Fitted (its ``fit_report_`` gives the loss curve).
    output, run_dir : pathlib.Path
        Checked by :func:`check_outputs` before the fit.
    metrics : dict
        ``{"train": ..., "test": ...}`` (test optional), each a dict of
        :func:`softmax_classifier.evaluation.classification_metrics`.
        ``metrics.json`` holds them, the fit report, the model's sparsity
        (:func:`._sparsity.model_sparsity`) and the model's path.
    image_shape : tuple of int or None
        ``(height, width)`` of the features as an image: draw ``weights.png``.
    """
    from softmax_classifier import plots
    from softmax_classifier._atomic import remove_stale_temporaries, temporary_path

    report = model.fit_report_
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    for folder in {output.parent, run_dir.parent}:
        _remove_stale_folders(folder)
        remove_stale_temporaries(folder)
    staging = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.{os.getpid()}.", dir=run_dir.parent))
    # Named by _atomic, so that a killed run's temporary is removed by a later write.
    model_temporary = Path(temporary_path(output))
    try:
        document = {
            **metrics,
            "fit_report": report.as_dict(),
            "sparsity": model_sparsity(model.coef_, model.get_params()),
            "model": str(output),
        }
        (staging / "metrics.json").write_text(json.dumps(document, indent=2) + "\n")
        plots.plot_loss_curve(
            report.objective_history, staging / "loss_curve.png", xlabel=unit(report.solver)
        )
        split = "test" if "test" in metrics else "train"
        draw_scores(metrics[split], staging, f" ({split})")
        if image_shape is not None:
            plots.plot_weights(
                model.coef_,
                image_shape,
                [str(c) for c in model.classes_],
                staging / "weights.png",
            )
        model.save(model_temporary)
        run_dir.mkdir(parents=True, exist_ok=True)
        for path in sorted(staging.iterdir()):
            os.replace(path, run_dir / path.name)
        os.replace(model_temporary, output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(model_temporary)


def draw_scores(scores, folder, note=""):
    """Write ``confusion_matrix.png`` and ``reliability.png`` of ``scores`` into ``folder``.

    Parameters
    ----------
    scores : dict
        As :func:`softmax_classifier.evaluation.classification_metrics` returns them.
    folder : pathlib.Path
        Made if missing.
    note : str, default=""
        Added to both titles (``" (test)"``).

    Returns
    -------
    list of pathlib.Path
        The two figures.
    """
    import numpy as np

    from softmax_classifier import plots

    bins = scores["calibration_bins"]
    return [
        plots.plot_confusion_matrix(
            np.asarray(scores["confusion_matrix"]),
            [str(label) for label in scores["labels"]],
            folder / "confusion_matrix.png",
            title=f"Confusion matrix{note}",
        ),
        plots.plot_reliability(
            bins["weight"],
            bins["accuracy"],
            bins["confidence"],
            folder / "reliability.png",
            ece=scores["expected_calibration_error"],
            mce=scores["max_calibration_error"],
            title=f"Reliability diagram{note}",
        ),
    ]


def _remove_stale_folders(folder):
    """Remove staging folders (``.<run folder>.<pid>.<random>``) of killed ``train`` runs."""
    from softmax_classifier._atomic import is_running

    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        parts = name.split(".")
        if not name.startswith(".") or len(parts) < 4 or not parts[-2].isdigit():
            continue
        path = os.path.join(folder, name)
        if os.path.islink(path) or not os.path.isdir(path) or is_running(int(parts[-2])):
            continue
        if set(os.listdir(path)) <= set(RUN_FILES):  # only what train writes there
            shutil.rmtree(path, ignore_errors=True)
