"""Tests of the one atomic writer of output files, and of the model and checkpoint writers
that use it (issue 10, section 4: no lost or half-written outputs).

A killed writer must leave the old file or the new one, never a torn one; a symbolic
link, directory, device or FIFO is never replaced; temporaries of killed writers do not
pile up.
"""

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import softmax_classifier
from softmax_classifier import _atomic, checkpoint, model_file
from softmax_classifier._atomic import (
    OutputPathError,
    atomic_write,
    check_output_path,
    remove_stale_temporaries,
)

PACKAGE = Path(softmax_classifier.__file__).parent


def small_model(value=1.0, n_features=3):
    tensors = {
        "coef": np.full((2, n_features), float(value)),
        "intercept": np.array([float(value), 0.0]),
    }
    metadata = {
        "library_version": "test",
        "classes": ["a", "b"],
        "class_type": "str",
        "n_features": n_features,
        "feature_names": None,
        "dtype": "float64",
        "preprocessing": {"standardize": False, "center": False},
        "hyperparameters": {},
        "fit_report": None,
    }
    return tensors, metadata


def save_model(path, value=1.0):
    model_file.save(path, *small_model(value))


def save_checkpoint(path, value=1.0):
    checkpoint.save(path, {"w": np.full(3, float(value))}, {"fit": "test"}, seed=0)


WRITERS = [
    pytest.param(save_model, id="model_file"),
    pytest.param(save_checkpoint, id="checkpoint"),
]


def temporaries(directory):
    return sorted(name for name in os.listdir(directory) if name.startswith("."))


# -- the writer ----------------------------------------------------------------------------


def test_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    with atomic_write(target, "w", encoding="utf-8", newline="\n") as file:
        file.write("a,b\n")
        assert target.read_text() == "old\n"  # nothing visible before the block ends
        assert len(temporaries(tmp_path)) == 1
    assert target.read_text() == "a,b\n"
    assert os.listdir(tmp_path) == ["out.csv"]


def test_a_failing_block_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_write(target) as file:
        file.write(b"half")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


@pytest.mark.parametrize("writer", WRITERS)
def test_writers_refuse_a_symbolic_link_and_leave_it_alone(tmp_path, writer):
    """Issue 10: `-o` pointing at a symlink replaced the link."""
    real = tmp_path / "real.bin"
    real.write_bytes(b"precious")
    link = tmp_path / "link.bin"
    link.symlink_to(real)
    with pytest.raises(OutputPathError, match="symbolic link"):
        writer(link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == b"precious"
    assert sorted(os.listdir(tmp_path)) == ["link.bin", "real.bin"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("writer", WRITERS)
def test_writers_refuse_a_fifo_and_a_directory(tmp_path, writer):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OutputPathError, match="a FIFO"):
        writer(fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(OutputPathError, match="a directory"):
        writer(folder)
    assert folder.is_dir() and os.listdir(folder) == []
    assert sorted(os.listdir(tmp_path)) == ["folder", "pipe"]


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="creating a device node needs root"
)
@pytest.mark.parametrize("writer", WRITERS)
def test_writers_refuse_a_device(tmp_path, writer):
    """Issue 10: `-o /dev/full` replaced the device node (a twin of /dev/null here)."""
    device = tmp_path / "null"
    os.mknod(device, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    with pytest.raises(OutputPathError, match="a device"):
        writer(device)
    assert stat.S_ISCHR(os.lstat(device).st_mode)
    assert os.listdir(tmp_path) == ["null"]


def test_check_output_path_refuses_the_real_dev_null_and_a_missing_directory(tmp_path):
    with pytest.raises(OutputPathError, match="a device"):
        check_output_path("/dev/null")
    with pytest.raises(OutputPathError, match="does not exist"):
        check_output_path(tmp_path / "missing" / "out.csv")
    assert check_output_path(tmp_path / "new.csv") == str(tmp_path / "new.csv")


def dead_pid():
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_temporaries_of_dead_writers_are_removed_and_nothing_else(tmp_path):
    """Issue 10: SIGKILLed saves left hidden temporaries forever (1016 MB after 12 kills)."""
    dead, alive = dead_pid(), os.getppid()
    other_host = "0" * 8 if _atomic._HOST != "0" * 8 else "1" * 8
    names = {
        "dead": f".model.safetensors.{_atomic._HOST}.{dead}.0123456789ab.softmax-tmp",
        "dead-untagged": f".model.safetensors.{dead}.0123456789ab.softmax-tmp",
        "alive": f".model.safetensors.{_atomic._HOST}.{alive}.0123456789ab.softmax-tmp",
        # A process of another machine writing into a shared (NFS) directory: its pid
        # means nothing here, so its temporary is never touched.
        "other-host": f".model.safetensors.{other_host}.{dead}.0123456789ab.softmax-tmp",
        "other-suffix": f".model.safetensors.{dead}.0123456789ab.tmp",
        "not-hex": f".model.safetensors.{dead}.0123456789zz.softmax-tmp",
        "user-file": "notes.softmax-tmp",
    }
    for name in names.values():
        (tmp_path / name).write_bytes(b"x")
    save_model(tmp_path / "model.safetensors")
    left = set(os.listdir(tmp_path))
    removed = {names["dead"], names["dead-untagged"]}
    assert left == {"model.safetensors", *(set(names.values()) - removed)}
    assert remove_stale_temporaries(tmp_path) == 0


# -- SIGKILL while saving --------------------------------------------------------------------

# The child imports only the writers (not the package's __init__, which imports
# scikit-learn), so that each of the kills costs a fraction of a second.
_CHILD = """
import sys, time, types
package = types.ModuleType("softmax_classifier")
package.__path__ = [{package!r}]
sys.modules["softmax_classifier"] = package
import numpy as np
from softmax_classifier import checkpoint, model_file

kind, path, value = sys.argv[1], sys.argv[2], float(sys.argv[3])
coef = np.full(({rows}, {columns}), value)
print("ready", flush=True)
start = time.perf_counter()
if kind == "model":
    metadata = {{"library_version": "test", "classes": list(range({rows})), "class_type": "int",
                "n_features": {columns}, "feature_names": None, "dtype": "float64",
                "preprocessing": {{"standardize": False, "center": False}},
                "hyperparameters": {{}}, "fit_report": None}}
    model_file.save(path, {{"coef": coef, "intercept": np.full({rows}, value)}}, metadata)
else:
    checkpoint.save(path, {{"coef": coef}}, {{"fit": "kill test"}}, seed=int(value))
print(time.perf_counter() - start, flush=True)
"""
ROWS, COLUMNS = 10, 500_000  # 40 MB of float64


def _start(kind, path, value):
    code = _CHILD.format(package=str(PACKAGE), rows=ROWS, columns=COLUMNS)
    child = subprocess.Popen(
        [sys.executable, "-c", code, kind, str(path), str(value)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "ready"
    return child


def _saved_value(kind, path):
    """The value of the model or checkpoint at ``path``, fully validated."""
    if kind == "model":
        tensors, _ = model_file.load(path)  # checks the SHA-256 of the whole file
        coef = tensors["coef"]
    else:
        state, seed = checkpoint.load(path.parent, {"fit": "kill test"})
        coef = state["coef"]
        assert coef[0, 0] == seed
    assert coef.shape == (ROWS, COLUMNS) and (coef == coef[0, 0]).all()
    return float(coef[0, 0])


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize(("kind", "kills"), [("model", 10), ("checkpoint", 4)])
def test_sigkill_during_a_large_save_leaves_the_old_or_the_new_file(tmp_path, kind, kills):
    """Kill a 40 MB save at random moments: the target always loads, as the old or the new
    version; after a final save no temporary file remains (issue 10)."""
    path = tmp_path / ("model.safetensors" if kind == "model" else checkpoint.CHECKPOINT_NAME)
    child = _start(kind, path, 0)  # the first version, saved to the end; times one save
    assert child.wait(timeout=60) == 0
    duration = float(child.stdout.read().strip())
    child.stdout.close()
    rng = np.random.default_rng(7)
    current, outcomes = 0.0, {"old": 0, "new": 0}
    start = time.perf_counter()
    for trial in range(1, kills + 1):
        child = _start(kind, path, trial)
        time.sleep(rng.uniform(0, 1.2 * duration))  # mostly during the write
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        child.stdout.close()
        value = _saved_value(kind, path)
        assert value in (current, float(trial)), (trial, value)
        outcomes["old" if value == current else "new"] += 1
        current = value
    elapsed = time.perf_counter() - start
    # Every write that was cut short left its temporary; none of them is the target.
    assert all(name.endswith(".softmax-tmp") for name in temporaries(tmp_path))
    child = _start(kind, path, kills + 1)
    assert child.wait(timeout=60) == 0
    child.stdout.close()
    assert _saved_value(kind, path) == kills + 1
    assert os.listdir(tmp_path) == [path.name], "temporaries of killed writers remain"
    print(f"{kind}: {outcomes}, one save {duration:.2f} s, {kills} kills in {elapsed:.1f} s")
    assert elapsed < 40


def test_temporary_path_is_beside_the_target_and_removed_once_its_writer_is_gone(tmp_path):
    name = Path(_atomic.temporary_path(tmp_path / "model.safetensors"))
    assert name.parent == tmp_path and name.name.startswith(".model.safetensors.")
    assert name != Path(_atomic.temporary_path(tmp_path / "model.safetensors"))
    stale = name.name.replace(f".{os.getpid()}.", f".{dead_pid()}.")
    (tmp_path / name.name).write_bytes(b"mine, alive")
    (tmp_path / stale).write_bytes(b"killed")
    assert remove_stale_temporaries(tmp_path) == 1
    assert os.listdir(tmp_path) == [name.name]
