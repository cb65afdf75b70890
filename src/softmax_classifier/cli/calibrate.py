"""``softmax calibrate``: fit a temperature to a model's probabilities on held-out rows.

The model's ``calibrate`` (temperature scaling: one ``T > 0`` that minimises the
validation log-loss of ``softmax(z / T)``; predicted labels never change) on the
labelled rows of DATA, read as ``evaluate`` reads them; the calibrated model is
written atomically, and the validation errors before and after are printed.
"""

from __future__ import annotations

import json

from softmax_classifier.cli._common import (
    STDIO,
    CommandError,
    call,
    console,
    key_value_table,
    metrics,
    print_table,
)

__all__ = ["calibrate"]


def calibrate(args):
    """``softmax calibrate ARGS`` -> 0: the calibrated model written, T and the errors shown."""
    from softmax_classifier._atomic import check_output_path
    from softmax_classifier.cli.score import labelled_rows
    from softmax_classifier.estimator import load

    if args.output == STDIO:
        raise CommandError("calibrate writes a model file by name (-o), not to standard output")
    check_output_path(args.output)  # before reading anything
    model = load(args.model)
    X, y = labelled_rows(model, args.data, args)
    before = metrics(model, X, y)
    call(lambda rows: model.calibrate(rows, y), X)  # X in the model's columns already
    after = metrics(model, X, y)
    model.save(args.output)
    report = {
        "temperature": float(model.temperature_),
        "n_samples": after["n_samples"],
        "model": str(args.output),
    }
    for key in ("expected_calibration_error", "max_calibration_error", "log_loss"):
        report[key] = {"before": before[key], "after": after[key]}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    table = key_value_table()
    table.add_row("temperature", f"{report['temperature']:.6g}")
    table.add_row("validation rows", str(report["n_samples"]))
    for key, name, digits in (
        ("expected_calibration_error", "calibration error (ECE)", 4),
        ("max_calibration_error", "max calibration error (MCE)", 4),
        ("log_loss", "log-loss", 6),
    ):
        values = report[key]
        table.add_row(name, f"{values['before']:.{digits}f} -> {values['after']:.{digits}f}")
    table.add_row("model", report["model"])
    print_table(console(), table)
    return 0
