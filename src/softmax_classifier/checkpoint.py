"""Checkpoints: a fit's whole solver state, written atomically, to resume after a crash.

A checkpoint is one ``.npz`` file (NumPy arrays only, read with
``allow_pickle=False``) in the checkpoint directory: the solver's state after
an iteration (:attr:`softmax_classifier.solvers.Iteration.state`) and a JSON
description of the fit it belongs to. It is written to a temporary file in the
same directory, flushed to disk and renamed over the previous one, so a
process killed at any moment leaves either the old or the new checkpoint,
never a torn one.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from softmax_classifier._atomic import atomic_write

__all__ = ["CHECKPOINT_NAME", "CheckpointError", "CheckpointWriter", "check_writable", "load"]

#: File name of the checkpoint inside its directory.
CHECKPOINT_NAME = "checkpoint.npz"
_DESCRIPTION_KEY = "__fit__"
_SEED_KEY = "__seed__"


class CheckpointError(ValueError):
    """A checkpoint directory that cannot be used, or a checkpoint of another fit."""


def check_writable(directory):
    """Create ``directory`` if needed and prove a file can be written there.

    Raises
    ------
    CheckpointError
        When it cannot: checked before a fit starts, never discovered later.
    """
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".probe-"):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        raise CheckpointError(f"cannot write checkpoints to {directory}: {reason}") from None


class CheckpointWriter:
    """A fit callback that saves the solver state every ``every`` iterations.

    Parameters
    ----------
    directory : str or os.PathLike
        Must be writable (see :func:`check_writable`).
    every : int
        Iterations (epochs) between checkpoints.
    description : dict
        JSON-ready facts about the fit (solver, data shape, hyperparameters),
        checked by :func:`load` on resume.
    seed : int
        The fit's random seed (drawn anew by each fit when ``random_state`` is
        None), restored on resume so that mini-batches are drawn as before.
    """

    def __init__(self, directory, every, description, *, seed):
        self.path = Path(directory) / CHECKPOINT_NAME
        self.every = int(every)
        self.description = description
        self.seed = int(seed)
        self.last_saved = None  # iteration of the last checkpoint written by this writer

    def __call__(self, info):
        if info.state is not None and info.iteration % self.every == 0:
            save(self.path, info.state(), self.description, self.seed)
            self.last_saved = info.iteration
        return False

    def whereabouts(self):
        """One sentence for error messages: where the last checkpoint is, and of when."""
        if self.last_saved is not None:
            return f"The last checkpoint (iteration {self.last_saved}) is in {self.path}."
        if self.path.exists():
            return f"The checkpoint in {self.path} is from before this fit started."
        return f"No checkpoint was written yet (every {self.every} iterations)."


def save(path, state, description, seed):
    """Write ``state`` (dict of arrays and numbers), ``description`` and ``seed`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file: a regular file (replaced) or a new name.
    state : dict of str to array_like
        The solver state (each value becomes one array of the ``.npz``).
    description : dict
        JSON-ready facts about the fit.
    seed : int

    Raises
    ------
    softmax_classifier._atomic.OutputPathError
        If ``path`` is a symbolic link, directory, device, FIFO or socket.
    OSError
        If it cannot be written; the previous checkpoint is then untouched.

    Notes
    -----
    Written by :func:`softmax_classifier._atomic.atomic_write`, the one writer of every
    output file: a temporary file beside ``path`` is renamed over it, and temporaries
    left by killed processes are removed by the next write.
    """
    arrays = {key: np.asarray(value) for key, value in state.items()}
    arrays[_DESCRIPTION_KEY] = np.asarray(json.dumps(description, sort_keys=True))
    arrays[_SEED_KEY] = np.asarray(seed, dtype=np.int64)
    with atomic_write(path, "wb") as stream:
        np.savez(stream, **arrays)


def load(directory, description):
    """The saved state in ``directory``, if it belongs to the fit ``description``.

    Parameters
    ----------
    directory : str or os.PathLike
    description : dict
        The resuming fit's description; it must equal the saved one.

    Returns
    -------
    state : dict or None
        The state, or None when the directory holds no checkpoint.
    seed : int or None
        The seed the fit used.

    Raises
    ------
    CheckpointError
        For an unreadable checkpoint or one written by a different fit.
    """
    path = Path(directory) / CHECKPOINT_NAME
    if not path.exists():
        return None, None
    try:
        with np.load(path, allow_pickle=False) as archive:
            state = {key: archive[key] for key in archive.files}
        saved = json.loads(str(state.pop(_DESCRIPTION_KEY)))
        seed = int(state.pop(_SEED_KEY))
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as error:
        raise CheckpointError(f"cannot read checkpoint {path}: {error}") from None
    expected = json.loads(json.dumps(description, sort_keys=True))
    differences = sorted(k for k in set(saved) | set(expected) if saved.get(k) != expected.get(k))
    if differences:
        shown = ", ".join(
            f"{k}: saved {saved.get(k)!r}, now {expected.get(k)!r}" for k in differences[:3]
        )
        raise CheckpointError(f"checkpoint {path} is from a different fit ({shown})")
    return state, seed
