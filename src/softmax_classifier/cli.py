"""The ``softmax`` command.

Subcommands: ``demo`` (train on scikit-learn's bundled digits and report).
"""

from __future__ import annotations

import argparse
import sys

from softmax_classifier.estimator import SOLVER_NAMES

__all__ = ["main"]


def _demo(args):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from softmax_classifier import SoftmaxClassifier

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=args.seed
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    print(
        f"digits: {X_train.shape[0]} training and {X_test.shape[0]} test images, "
        f"{X.shape[1]} pixels, {len(set(y))} classes (standardised)"
    )
    clf = SoftmaxClassifier(alpha=args.alpha, solver=args.solver, random_state=args.seed)
    clf.fit(X_train, y_train)
    report = clf.fit_report_
    print(f"solver:        {report.solver}")
    print(f"stop reason:   {report.stop_reason} ({report.message})")
    print(f"iterations:    {report.n_iter}")
    print(f"final loss:    {report.objective_history[-1]:.6f}")
    print(f"fit time:      {report.time_seconds:.3f} s")
    print(f"test accuracy: {clf.score(X_test, y_test):.4f}")
    return 0


def build_parser():
    """The argument parser of the ``softmax`` command.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog="softmax",
        description="Softmax classifier (multinomial logistic regression) from the shell.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="train on scikit-learn's bundled digits and print test accuracy",
        description="Train on scikit-learn's bundled digits (standardised, 25%% held out) "
        "and print the test accuracy, final loss and stop reason.",
    )
    demo.add_argument(
        "--solver",
        default="lbfgs",
        choices=SOLVER_NAMES,
        help="solver to use: %(choices)s (default: %(default)s)",
    )
    demo.add_argument(
        "--alpha", type=float, default=1e-3, help="L2 penalty strength (default: %(default)s)"
    )
    demo.add_argument("--seed", type=int, default=0, help="split and shuffle seed (default: 0)")
    demo.set_defaults(run=_demo)
    return parser


def main(argv=None):
    """Run the ``softmax`` command.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status.
    """
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
