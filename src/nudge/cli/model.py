"""``nudge evaluate``, ``predict`` and ``info``: what a saved model does and holds."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from ..display import counted, duration, epochs_done, kinds, say, table
from ..errors import NudgeError, printable
from ..inputs import confusion_matrix
from ..modelfile import cut_short
from ..train import evaluate
from .common import (
    add_data_options,
    add_json_option,
    add_model_argument,
    data_for_model,
    load_model,
    print_json,
)


def register(sub: Any) -> None:
    # ------------------------------------------------------------------ evaluate
    p = sub.add_parser("evaluate", help="accuracy, cost, per-digit accuracy, confusion matrix",
                       description="Evaluate a model on the test set of its dataset (or, "
                                   "with --split, on its training images or the ones its "
                                   "training held out).")
    add_model_argument(p)
    add_data_options(p, default=None)
    p.add_argument("--split", choices=["test", "train", "validation"], default="test",
                   help="which part of the dataset: test (default), train (all its training "
                        "images) or validation (those held out by train --validation)")
    add_json_option(p)
    p.set_defaults(func=cmd_evaluate)

    # ------------------------------------------------------------------ predict
    p = sub.add_parser("predict", help="read the digit in image files",
                       description="Read the digit in each PNG/JPEG image (dark-on-light or "
                                   "light-on-dark), prepared the MNIST way: grayscale, crop, fit "
                                   "in a 20x20 box, centre by centre of mass in 28x28.")
    add_model_argument(p)
    p.add_argument("images", metavar="IMAGE", nargs="+", help="image files")
    add_json_option(p)
    p.set_defaults(func=cmd_predict)

    # ------------------------------------------------------------------ info
    p = sub.add_parser("info", help="architecture, parameter count and metadata of a model",
                       description="Show what a model file holds.")
    add_model_argument(p)
    add_json_option(p)
    p.set_defaults(func=cmd_info)


# ====================================================================== evaluate
def cmd_evaluate(args: argparse.Namespace) -> int:
    net = load_model(args.model)
    data = data_for_model(net, args.dataset, args.data_dir)
    X, y = _split(net, data, args.split, args.model)
    cost, accuracy = evaluate(net, X, y)
    predicted = np.concatenate([net.predict(X[i:i + 10000]) for i in range(0, len(X), 10000)])
    k = net.sizes[-1]
    confusion = confusion_matrix(y, predicted, k)
    totals = confusion.sum(axis=1)
    per_class = np.divide(np.diag(confusion), totals, out=np.zeros(k), where=totals > 0)
    if args.json:
        print_json({"model": args.model, "dataset": data.name, "split": args.split,
                    "n_examples": len(X), "accuracy": accuracy, "cost": cost,
                    "per_class_accuracy": {c: per_class[i] for i, c in enumerate(data.classes)},
                    "confusion_matrix": confusion, "classes": data.classes})
        return 0
    print(f"{printable(args.model)} on the {data.name} {args.split} set "
          f"({counted(len(X), 'image')})")
    print(f"accuracy {100 * accuracy:.2f}%   cost {cost:.4f}\n")
    print(table(["class", "accuracy", "count"],
                [[c, f"{100 * per_class[i]:.2f}%" if totals[i] else "-", totals[i]]
                 for i, c in enumerate(data.classes)]))
    print("\nconfusion matrix (rows: true class, columns: predicted)")
    print(table(["true\\pred", *[str(i) for i in range(k)]],
                [[str(i), *confusion[i]] for i in range(k)]))
    return 0


def _split(net: Any, data: Any, split: str, model: str) -> tuple[Any, Any]:
    """The images of ``split``; validation: those the model's training held out (the
    ``n_validation`` after its ``n_train`` training images, as its metadata says)."""
    if split == "test":
        return data.X_test, data.y_test
    if split == "train":
        return data.X_train, data.y_train
    trained_on = net.metadata.get("dataset")
    if trained_on is not None and trained_on != data.name:
        raise NudgeError(f"--split validation: {model}'s held-out images are {trained_on}'s, "
                         f"not {data.name}'s: leave out --dataset, or give --dataset "
                         f"{trained_on}")
    start, held = (net.metadata.get(k) for k in ("n_train", "n_validation"))
    if not held:
        raise NudgeError(f"{model} was trained without --validation, so no images were held "
                         "out: use --split test or train")
    if (not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, held))
            or start < 1 or held < 1 or start + held > len(data.X_train)):
        raise NudgeError(f"{model}: its metadata's n_train={start!r}, n_validation={held!r} do "
                         f"not fit the {len(data.X_train):,} training images of {data.name}; "
                         "the file is damaged or from another dataset")
    return data.X_train[start:start + held], data.y_train[start:start + held]


# ====================================================================== predict
def cmd_predict(args: argparse.Namespace) -> int:
    """Each image on its own: a reading, or one line saying why not (naming the file);
    exit 1 if any image could not be read."""
    from ..images import layout_for, prepare_file

    net = load_model(args.model)
    layout_for(net.sizes[0])
    results: list[dict[str, Any]] = []
    for path in args.images:
        try:
            x = prepare_file(path, net.sizes[0])
        except NudgeError as e:
            results.append({"image": path, "error": str(e)})
            continue
        except MemoryError:
            results.append({"image": path, "error": f"{path}: too large to prepare (out of "
                            "memory)"})
            continue
        out = net.feedforward(x)
        results.append({"image": path, "digit": int(np.argmax(out)),
                        "activations": [round(float(v), 6) for v in out]})
    failed = [r for r in results if "error" in r]
    if args.json:
        print_json({"model": args.model, "predictions": results, "failed": len(failed)})
    classes = net.metadata.get("classes") or [str(i) for i in range(net.sizes[-1])]
    for r in results:                  # failures on stderr with --json too, in their order
        if "error" in r:
            print(f"nudge predict: error: {printable(r['error'])}", file=sys.stderr,
                  flush=True)
        elif not args.json:
            label = classes[r["digit"]] if r["digit"] < len(classes) else r["digit"]
            print(f"{printable(r['image'])}: {printable(label)}")
            for i, a in enumerate(r["activations"]):
                bar = "#" * round(a * 30)
                mark = " <" if i == r["digit"] else ""
                print(f"  {i}  {a:.4f}  {bar}{mark}", flush=i == len(r["activations"]) - 1)
    if failed and len(results) > 1:
        print(f"nudge predict: {len(failed)} of {len(results)} images could not be read",
              file=sys.stderr)
    return 1 if failed else 0


# ====================================================================== info
#: the characters of a metadata value ``nudge info`` shows (--json shows it whole)
MAX_FIELD = 400


def cmd_info(args: argparse.Namespace) -> int:
    net = load_model(args.model)
    md = dict(net.metadata)
    if args.json:
        md.pop("history", None)
        print_json({"model": args.model, "sizes": net.sizes, "n_parameters": net.n_parameters,
                    "layers": [{"weights": list(w.shape), "biases": list(b.shape)}
                               for w, b in zip(net.weights, net.biases)], "metadata": md})
        return 0
    print(printable(args.model))

    def field(label: str, value: str) -> None:       # values wrap under the value column
        if len(value) > MAX_FIELD:                     # free text from the file: a screen
            value = f"{value[:MAX_FIELD]}... (cut: {len(value):,} characters in all)"
        say(f"  {label:<13} {value}", hang=16)

    field("architecture", f"{'-'.join(map(str, net.sizes))}  ({kinds(net)}, {net.dtype})")
    field("parameters", f"{net.n_parameters:,}")
    for l, (w, b) in enumerate(zip(net.weights, net.biases), start=1):
        print(f"    layer {l}: weights {w.shape[0]}x{w.shape[1]}, biases {b.shape[0]}")
    training = md.get("training") or {}
    for key, label in (("dataset", "dataset"), ("preset", "preset"), ("created", "created")):
        if md.get(key) is not None:
            field(label, printable(md[key]))
    if training:
        field("training", printable(", ".join(f"{k}={v}" for k, v in training.items()
                                               if v is not None)))
    if md.get("n_train") is not None:
        field("images", f"{md['n_train']:,} trained on"
              + (f", {md['n_validation']:,} held out" if md.get("n_validation") else "")
              + (f", {md['n_test']:,} tested" if md.get("n_test") is not None else ""))
    start = md.get("started_from") if isinstance(md.get("started_from"), dict) else None
    if start is not None:
        before = start.get("epochs")
        accuracy = start.get("test_accuracy")
        field("started from", printable(start.get("model")) + (
            f" after {epochs_done(before, start.get('partial') is True)} of training"
            if isinstance(before, int) else "") + (
            f" ({100 * accuracy:.2f}% on the test images then)"
            if isinstance(accuracy, (int, float)) else ""))
    if md.get("test_accuracy") is not None:
        trained = md.get("epochs_trained")         # None: the metadata does not say
        of = f" of {trained}" if trained is not None else ""
        when = (f" at epoch {md['best_epoch']}{of}, the best on the held-out images (early "
                "stopping)" if md.get("best_epoch") is not None
                else f" after {epochs_done(trained, cut_short(md), start is not None)}"
                if trained is not None else "")
        field("test accuracy", f"{100 * md['test_accuracy']:.2f}%{when}"
              + (f" ({duration(md['train_seconds'])} of training)"
                 if isinstance(md.get("train_seconds"), (int, float)) else ""))
    if isinstance(md.get("validation_accuracy"), (int, float)) and md.get("n_validation"):
        field("validation", f"{100 * md['validation_accuracy']:.2f}% on the "
              f"{md['n_validation']:,} training images held out")
    if md.get("parameters_sha256") is None:
        field("checksum", "no checksum (saved by an older nudge, or not by nudge): damage "
              "to its weights could not be detected; saving it again adds one")
    return 0
