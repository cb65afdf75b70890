"""``softmax export``: a model file as an ONNX graph, for serving outside Python.

Loads MODEL and writes it with the estimator's ``to_onnx`` (the graph and its
inputs and outputs: ``docs/onnx.md``). The output path is checked before the
model is read; a missing ``onnx`` extra, a missing model or a path that cannot
be written is one line and exit status 2.
"""

from __future__ import annotations

from softmax_classifier.cli._common import STDIO, CommandError

__all__ = ["export"]


def export(args):
    """``softmax export MODEL -o FILE [--opset N]`` -> 0: the ONNX file written."""
    if args.output == STDIO:
        raise CommandError("export writes an ONNX file by name (-o), not to standard output")
    from softmax_classifier._atomic import check_output_path

    check_output_path(args.output)  # before the model is read
    from softmax_classifier.estimator import load

    try:
        path = load(args.model).to_onnx(args.output, opset=args.opset)
    except ImportError as error:  # the optional extra is missing
        raise CommandError(str(error)) from error
    print(f"wrote {path} (ONNX opset {args.opset}; input X, outputs label and probabilities)")
    return 0
