"""``nudge train``: a network trained by SGD on a dataset, saved with its history."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from ..bounds import random_seed
from ..checks import MAX_EPOCHS, check_batch_fits, check_patience
from ..control import Control, CtrlC
from ..display import counted, kinds, say
from ..errors import DivergenceError, NudgeError, printable
from ..network import ACTIVATIONS, COSTS, INITS, OUTPUTS, Network
from ..optimizers import DEFAULT_LEARNING_RATES, DEFAULT_MOMENTUM, OPTIMIZERS
from ..presets import DEFAULT_PRESET, PRESETS
from ..schedules import SCHEDULES, plateau_floor
from ..settings import architecture_of, flags, resolve
from ..train import EXAMPLES_PER_CALL, near_chance, train
from . import trained
from .common import (
    CommandFailed,
    add_data_options,
    add_json_option,
    add_limits,
    check_plot,
    check_replaceable,
    data_for_model,
    epochs_type,
    layer_sizes,
    load_data,
    load_model,
    model_dataset,
    momentum_type,
    nonnegative_float,
    note,
    positive_float,
    positive_int,
    print_json,
    save_model,
    seed_type,
    weight_decay_type,
)


def batch_size_type(text: str) -> int | None:
    if text.lower() == "full":
        return None
    return positive_int(text)


# register() is long only because it declares every option of its commands, one statement
# per option (argparse); it has no logic
def register(sub: Any) -> None:
    # ------------------------------------------------------------------ train
    p = sub.add_parser(
        "train", help="train a network by stochastic gradient descent and save it",
        description="Train a network on MNIST (or Fashion-MNIST, or the embedded 8x8 digits) "
                    "by mini-batch stochastic gradient descent, print a summary table and "
                    "save the model. Ctrl-C stops after the current call of the training "
                    f"engine (at most {EXAMPLES_PER_CALL:,} examples) and saves what was "
                    "learned.",
        epilog="presets: " + "; ".join(f"{k} = {v['description']}" for k, v in PRESETS.items()),
    )
    p.add_argument("--preset", choices=list(PRESETS),
                   help="starting set-up; any option below overrides it (default: "
                        f"{DEFAULT_PRESET}; with --start-from, the preset the model was "
                        "trained with)")
    p.add_argument("--start-from", metavar="MODEL",
                   help="train further a saved model instead of a new network: its "
                        "architecture, weights and biases, and its dataset unless --dataset "
                        "is given (--out may name the same file: it is replaced once "
                        "training ends)")
    add_data_options(p)
    p.add_argument("--sizes", type=layer_sizes, metavar="N,N,...",
                   help="layer sizes, input first, e.g. 784,16,16,10")
    p.add_argument("--activation", choices=ACTIVATIONS, help="hidden-layer activation")
    p.add_argument("--output", choices=OUTPUTS, help="output-layer function")
    p.add_argument("--cost", choices=COSTS, help="cost function")
    p.add_argument("--init", choices=INITS, help="weight initialisation")
    p.add_argument("--epochs", type=epochs_type, help="passes over the training set "
                   "(at most 100,000)")
    p.add_argument("--batch-size", type=batch_size_type, default=argparse.SUPPRESS,
                   metavar="B", help="mini-batch size, or 'full' for full-batch gradient descent")
    p.add_argument(*flags("learning_rate"), type=positive_float, metavar="ETA",
                   help="step size eta (default: the preset's for sgd, that times "
                        "(1 - momentum) for momentum, the same steady step; adam "
                        f"{DEFAULT_LEARNING_RATES['adam']:g})")
    p.add_argument("--schedule", choices=SCHEDULES,
                   help="learning-rate schedule: constant, cosine decay to "
                        "--min-learning-rate, or plateau (with --patience N: halve eta "
                        "whenever the validation accuracy has not risen for N epochs, while "
                        "eta/2 >= --min-learning-rate; Nielsen's chapter 3) (default: the "
                        "preset's)")
    p.add_argument("--min-learning-rate", type=nonnegative_float, metavar="ETA_MIN",
                   help="the rate the cosine schedule decays towards (its value after the "
                        "last epoch); the plateau schedule halves eta "
                        "while eta/2 >= this (default: the preset's, else 0; for plateau 0 "
                        "means eta/64, Nielsen's stop at 1/128)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd",
                   help="sgd (default), momentum or adam")
    p.add_argument("--momentum", type=momentum_type,
                   help="momentum coefficient mu for --optimizer momentum (default "
                        f"{DEFAULT_MOMENTUM})")
    p.add_argument("--weight-decay", type=weight_decay_type, metavar="LAMBDA",
                   help="L2 weight decay lambda: adds lambda/2 * sum(w^2) to the cost "
                        "(default: the preset's)")
    p.add_argument("--seed", type=seed_type, help="fixes initialisation and shuffling, 0 to "
                   "2^32-1 "
                   "(default: a random seed, recorded in the model file)")
    add_limits(p)
    p.add_argument("--validation", type=positive_int, metavar="N",
                   help="hold out the last N training images (never trained on) and report "
                        "accuracy on them every epoch; Nielsen's split of MNIST is 10000")
    p.add_argument("--patience", type=epochs_type, metavar="N",
                   help="with --validation: stop when the validation accuracy has not risen "
                        "for N epochs, and keep the network of the epoch where it was highest "
                        "(early stopping)")
    p.add_argument("--engine", choices=["auto", "reference", "fast"], default="auto",
                   help="training engine (default: auto = the compiled kernel where it applies)")
    p.add_argument("--threads", type=int, choices=[1, 2], metavar="{1,2}",
                   help="threads the compiled kernel may use for networks with 512 or more "
                        "neurons in the first hidden layer (default: $NUDGE_THREADS, else "
                        "where two CPUs are free the faster of 1 and 2, timed while it "
                        "trains; the result is the same)")
    p.add_argument("--out", default="model.safetensors", metavar="MODEL",
                   help="where to save the model (default: %(default)s)")
    p.add_argument("--plot", metavar="FILE.png", help="save cost and accuracy per epoch")
    p.add_argument("--track", choices=["noise"],
                   help="record after every epoch (and before the first): noise = the gradient "
                        "noise scale B_simple over the training images (see nudge noise), in "
                        "the model's history and --json")
    p.add_argument("--track-plot", metavar="FILE.png",
                   help="with --track noise: save B_simple per epoch and against the cost")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_json_option(p)
    p.set_defaults(func=cmd_train)


# ====================================================================== train
def cmd_train(args: argparse.Namespace) -> int:
    from ..fsutil import check_writable
    from ..modelfile import file_size

    out = _check_destinations(args)
    check_patience(args.patience, bool(args.validation), MAX_EPOCHS,   # before loading data
                   args.schedule or "constant")
    start = _starting_network(args)            # None: a freshly initialised network
    data, validation = _training_data(args, out, start)
    architecture = (
        {"sizes": args.sizes, "activation": args.activation, "output": args.output,
         "cost": args.cost, "init": args.init} if start is None else
        architecture_of(start))
    setup = resolve(args.preset, n_inputs=data.n_inputs, n_classes=len(data.classes),
                    **architecture, epochs=args.epochs,
                    batch_size=getattr(args, "batch_size", "preset"),
                    learning_rate=args.learning_rate, schedule=args.schedule,
                    min_learning_rate=args.min_learning_rate, weight_decay=args.weight_decay,
                    optimizer=args.optimizer, momentum=args.momentum)
    batch_size, epochs, sizes = setup.batch_size, setup.epochs, setup.sizes
    net_name = "-".join(map(str, sizes))
    eta, schedule, min_eta = setup.learning_rate, setup.schedule, setup.min_learning_rate
    left = f" left after --validation {args.validation:,}" if validation else ""
    check_batch_fits(batch_size, len(data.X_train),
                     "--batch-size" if hasattr(args, "batch_size")
                     else f"the {args.preset} preset's batch size", "training image",
                     "use a smaller --batch-size, or 'full'", left)
    seed = args.seed if args.seed is not None else random_seed()
    net = setup.network(seed) if start is None else start
    check_writable(out, size=file_size(net))
    started = trained.started_from(args.start_from, start, data)
    progress = not args.quiet and not args.json and sys.stderr.isatty()
    if not args.json:
        held = f", {len(validation[0]):,} held out" if validation else ""
        shape = "x".join(map(str, data.image_shape))
        rate = (f" ({schedule} to {min_eta:g})" if schedule == "cosine" else
                f" (halved after {counted(args.patience, 'epoch')} without a rise, while "
                f"eta/2 >= {plateau_floor(eta, min_eta):g})" if schedule == "plateau" else "")
        say(f"training {net_name}: {kinds(net)}\n"
            + (trained.describe_start(started) if started else "") +
            f"  on {data.name} ({shape} images): {len(data.X_train):,} to train "
            f"on{held}, {len(data.X_test):,} to test\n"
            f"  {net.n_parameters:,} weights and biases; {counted(epochs, 'epoch')}, "
            f"batch size {batch_size or 'full'}, {args.optimizer}, seed {seed}\n"
            f"  eta {eta:g}{rate}", hang=4, file=sys.stderr)
    tracker = None
    if args.track == "noise":                  # the insight layer's epoch callback
        from ..insight import NoiseTracker

        tracker = NoiseTracker(data.X_train, data.y_train)
        tracker.start(net)
    try:
        history = train(net, data.X_train, data.y_train, **setup.train_options(),
                        test_data=data.test_data, validation_data=validation,
                        patience=args.patience, seed=seed,
                        progress=progress, engine=args.engine, threads=args.threads,
                        callback=tracker)
    except DivergenceError as e:
        raise CommandFailed(f"{e}; nothing was saved", trained.unsaved_result(
            e.history, "diverged", data, sizes, seed, tracker)) from None
    kept = history.kept                     # the epoch whose network is saved
    if kept is None:
        raise CommandFailed("training was interrupted before the first epoch ended; nothing "
                            "was saved", trained.unsaved_result(history, history.stopped, data,
                                                                sizes, seed, tracker))
    metadata = trained.model_metadata(args, data, validation, history, tracker,
                                      started)
    # what was learned is saved: a Ctrl-C now waits for the files (a second one, or a
    # first one after the Ctrl-C that stopped training, aborts at once; the old files stay)
    saving = Control()
    if history.stopped == "interrupted":
        saving.stop("interrupted")
    with CtrlC(saving):
        saved, problem = save_model(net, out, metadata)
        plotted, problem = trained.save_figures(args, history, tracker,
                                                f"{net_name} on {data.name}", saved, problem)
    interrupted = history.stopped == "interrupted" or saving.stop_requested is not None
    # exit status: 1 if something was not saved where asked, else 130 after Ctrl-C
    status = 1 if problem else 130 if interrupted else 0
    trained.note_stop(history)
    if history.stopped != "interrupted" and interrupted:
        note("Ctrl-C while saving: the files were written first")
    if args.json:
        result = trained.json_result(args, history, metadata, saved, plotted, data, sizes, seed,
                                     tracker, problem)
        if problem:                  # the same object, its "error" said (nudge.cli.main)
            raise CommandFailed(problem, result)
        print_json({**result, "error": None})
        return status
    trained.print_summary(history, data, saved, args, plotted, tracker, problem)
    accuracy = kept.test_accuracy               # None when there is no test set
    if accuracy is not None and near_chance(accuracy, len(data.classes)):
        ran = dataclasses.replace(setup, epochs=len(history.epochs))  # after Ctrl-C, patience
        note(ran.chance_note(accuracy, len(data.classes), "--learning-rate", "--epochs"))
    if problem:
        raise NudgeError(problem)
    return status


def _check_destinations(args: argparse.Namespace) -> Any:
    """The model file and the figures can be written (checked before training)."""
    from ..fsutil import check_writable

    out = check_writable(args.out)
    check_replaceable(out)
    check_plot(args.plot)
    if args.track_plot and not args.track:
        raise NudgeError("--track-plot needs --track noise: there is nothing to plot")
    check_plot(args.track_plot, "--track-plot")
    return out


def _starting_network(args: argparse.Namespace) -> Network | None:
    """The network of ``--start-from MODEL`` (None without it), whose architecture the
    architecture's options may not change; and the preset the run takes its options from
    (``--preset``, else that model's, else 3b1b) into ``args.preset``."""
    start = None
    if args.start_from is not None:
        start = load_model(args.start_from)
        for option in ("sizes", "activation", "output", "cost", "init"):
            value = getattr(args, option)
            if value is not None:
                given = ",".join(map(str, value)) if isinstance(value, list) else value
                raise NudgeError(
                    f"--{option} {given}: the network comes from --start-from "
                    f"{printable(args.start_from)} ({'-'.join(map(str, start.sizes))}, "
                    f"{kinds(start)}); leave --{option} out, or train a new network "
                    "without --start-from")
        held = start.metadata.get("n_validation")
        same_data = args.dataset in (None, "auto", start.metadata.get("dataset"))
        if isinstance(held, int) and held > 0 and args.validation != held and same_data:
            now = (f"holds out {args.validation:,} instead" if args.validation
                   else "trains on them")
            note(f"{args.start_from} was trained with the last {held:,} training images held "
                 f"out; this run {now}, so their accuracy would no longer be that of images "
                 f"it has never seen: give --validation {held} to keep them out")
    if args.preset is None:
        named = start.metadata.get("preset") if start is not None else None
        args.preset = named if named in PRESETS else DEFAULT_PRESET
    return start


def _training_data(args: argparse.Namespace, out: Any,
                   start: Network | None) -> tuple[Any, Any]:
    """The data set to train on (that of the ``--start-from`` model, unless --dataset
    says otherwise) and the held-out examples (None without --validation); the 8x8
    fallback never replaces another data set's model."""
    if start is not None:
        data = data_for_model(start, args.dataset, args.data_dir)
        if start.sizes[-1] != len(data.classes):
            raise NudgeError(f"the --start-from model has {start.sizes[-1]} outputs but "
                             f"{data.name} has {len(data.classes)} classes; choose the "
                             "dataset it was trained on")
    else:
        data = load_data(args.dataset, args.data_dir)
    if start is None and args.dataset in (None, "auto") and data.name == "digits":
        trained_on = model_dataset(out)
        if trained_on not in (None, "digits"):
            raise NudgeError(f"{out} holds a model trained on {trained_on}, and this run would "
                             "train on the embedded 8x8 digits instead (see the note above); "
                             "nothing was trained or replaced: pass --dataset digits to "
                             "replace it anyway, or choose another --out")
    if args.train_limit or args.test_limit:
        data = data.subset(args.train_limit, args.test_limit)
    if args.validation:
        try:
            return data.hold_out(args.validation)
        except NudgeError as e:
            raise NudgeError(f"--validation {args.validation}: {e}") from None
    return data, None
