"""What the server holds between requests: the models, the dataset and the training run."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import NudgeError
from ..fsutil import not_a_folder
from ..network import Network, Snapshot
from . import explain
from .training import TrainingJob
from .validation import SAVE_NAME, ApiError, bad, conflict

MAX_LISTED = 200               # saved models listed (with their details), and saved, at most
MEASURE_EXAMPLES = 1000        # test images re-measured after each hand step
MAX_UNDO = 20                  # hand steps that can be undone one by one
SOURCES = ("file", "saved", "page")


class HandEdits:
    """Gradient steps taken by hand on the model in use (the Nudges view): how many, the
    accuracy on the first :data:`MEASURE_EXAMPLES` test images before and after, and
    snapshots to undo them (the last :data:`MAX_UNDO` one by one, or all at once)."""

    def __init__(self, net: Network, original: Snapshot, accuracy_before: float | None) -> None:
        self.net = net                  # the edits belong to this very network
        self.original = original        # its parameters before the first hand step
        self.undo: list[Snapshot] = []
        self.steps = 0
        self.accuracy_before = accuracy_before
        self.accuracy_now = accuracy_before

    def to_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "examples": MEASURE_EXAMPLES,
                "accuracy_before": self.accuracy_before, "accuracy_now": self.accuracy_now,
                "can_undo": self.steps > 0}


class WebState:
    """The models, the dataset and the training run the page works with.

    Models: the one given on the command line (``file``), the last one loaded from the
    save folder (``saved``) and the one trained on this page (``page``); each stays
    available when another is used.  The model in use (:attr:`net`) is a copy of the
    file and saved ones, so hand steps never touch what was loaded; the page's model is
    used as it is (it is what training changes).
    """

    def __init__(self, model_path: str | Path | None = None, save_dir: str | Path | None = None,
                 dataset: str = "auto", data_dir: str | Path | None = None) -> None:
        from ..modelfile import load

        self.dataset_name = dataset
        self.data_dir = data_dir
        self._data: Any = None
        self._data_error: str | None = None
        self._data_lock = threading.Lock()
        self.lock = threading.RLock()
        self.save_lock = threading.Lock()         # a save's check and write are one step
        self.save_dir = Path(save_dir).resolve() if save_dir else None
        if self.save_dir is not None and (what := not_a_folder(self.save_dir)):
            raise NudgeError(f"--save-dir {save_dir}: {what}; give a folder (create it "
                             "first) for the page's saved models")
        self.file_net: Network | None = None
        self.file_label: str | None = None
        if model_path is not None:
            self.file_net = load(model_path)
            self.file_label = Path(model_path).name
        self.saved_net: Network | None = None
        self.saved_label: str | None = None
        self.page_net: Network | None = None
        self.net: Network | None = None
        self.source: str | None = None
        self._edits: dict[str, HandEdits] = {}
        self.version = 0
        self.job: TrainingJob | None = None
        self._saved_info: dict[str, tuple[tuple[int, int], dict[str, Any]]] = {}
        if self.file_net is not None:
            self.use("file")

    # ------------------------------------------------------------------ models
    def use(self, source: str) -> None:
        """Use the ``file``, ``saved`` or ``page`` model."""
        original = {"file": self.file_net, "saved": self.saved_net, "page": self.page_net}[source]
        if original is None:
            raise conflict({
                "file": "no model was given on the command line (nudge serve --model FILE)",
                "saved": "no saved model has been loaded",
                "page": "no model has been trained on this page yet"}[source])
        if source == "page":
            self.net = original
        else:
            self.net = original.copy()    # gradient steps never touch the loaded model
            self.net.metadata = dict(original.metadata)
        self.source = source
        self.version += 1

    @property
    def edits(self) -> HandEdits | None:
        """The hand edits of the model in use (kept for the page's model while another is
        used; a copy of a loaded model starts afresh)."""
        e = self._edits.get(self.source or "")
        return e if e is not None and e.net is self.net else None

    def page_model_to_save(self) -> tuple[Network, dict[str, Any]]:
        """A copy of the page's model and its metadata, taken under the lock (a hand step
        is never saved half done); after hand steps without the test figures of the run,
        which the weights no longer have."""
        with self.lock:
            net = self.page_net
            if net is None:
                raise conflict("no model has been trained on this page yet: train one first")
            metadata = dict(net.metadata)
            edits = self._edits.get("page")
            if edits is not None and edits.net is net and edits.steps:
                for key in ("test_accuracy", "test_cost", "train_cost", "validation_accuracy",
                            "validation_cost"):
                    metadata.pop(key, None)
            return net.copy(), metadata

    def label(self, source: str | None) -> str | None:
        return {"file": self.file_label, "saved": self.saved_label,
                "page": "trained on this page" if self.page_net is not None else None,
                None: None}[source]

    def require_net(self) -> Network:
        if self.net is None:
            raise conflict("there is no model yet: train one on the Learn tab, or start the "
                           "server with nudge serve --model FILE")
        return self.net

    def require_idle(self, doing: str) -> None:
        if self.job is not None and self.job.active:
            raise conflict(f"a training run is under way ({self.job.state}): stop or reset it "
                           f"before you {doing}")

    def model_info(self) -> dict[str, Any] | None:
        """The model in use as the page shows it.  Hand steps and undos change it in worker
        threads meanwhile: the version is read first (what follows is at least that new,
        and a reader that sees the version move on asks again), and each part once."""
        version, net = self.version, self.net
        if net is None:
            return None
        info = explain.model_payload(net)
        job, edits, source = self.job, self.edits, self.source
        info.update(source=source, version=version, label=self.label(source),
                    training=job is not None and job.active and net is job.net,
                    modified=edits.to_dict() if edits is not None else None)
        return info

    def models(self) -> dict[str, Any]:
        """The models the page can switch between: each one's label and architecture."""
        def entry(net: Network | None, source: str) -> dict[str, Any] | None:
            if net is None:
                return None
            return {"label": self.label(source), **explain.model_payload(net)}
        return {"source": self.source, "file": entry(self.file_net, "file"),
                "saved": entry(self.saved_net, "saved"), "page": entry(self.page_net, "page")}

    # ------------------------------------------------------------------ hand steps
    def measure(self, net: Network) -> float | None:
        """Accuracy on the first :data:`MEASURE_EXAMPLES` test images (None if the data
        does not fit the model)."""
        try:
            data = self.data_for(net)
        except ApiError:
            return None
        n = min(MEASURE_EXAMPLES, len(data.X_test))
        return float(np.mean(net.predict(data.X_test[:n]) == data.y_test[:n]))

    def hand_step(self, net: Network, x: np.ndarray, target: int, learning_rate: float
                  ) -> dict[str, Any]:
        """One gradient step on one example, by hand, on ``net`` if it is still the model in
        use and no run trains it (checked under the lock): remembered for undo, re-measured."""
        try:
            self.data()               # loaded (once) before the lock, which other requests wait on
        except ApiError:
            pass                      # no dataset: the step is not re-measured
        with self.lock:
            self.require_idle("change the model by hand")
            if self.net is not net:
                raise conflict("the model in use changed while the step was prepared: "
                               "try again")
            before = net.snapshot()
            edits = self.edits
            accuracy = self.measure(net) if edits is None else None
            # a refused step (NaN weights) raises with the network as it was: nothing recorded
            result = explain.gradient_step(net, x, target, learning_rate)
            if edits is None:
                edits = self._edits[self.source or ""] = HandEdits(net, before, accuracy)
            edits.undo = [*edits.undo[-(MAX_UNDO - 1):], before]
            edits.steps += 1
            edits.accuracy_now = self.measure(net)
            self.version += 1
        return result

    def undo(self, everything: bool = False) -> None:
        """Undo the last hand step (or all of them)."""
        with self.lock:
            self.require_idle("undo a hand step")
            edits = self.edits
            if edits is None or edits.steps == 0:
                raise conflict("there is no hand step to undo")
            if not everything and not edits.undo:
                raise conflict(f"only the last {MAX_UNDO} steps can be undone one by one: "
                               "undo all of them instead")
            net = self.require_net()
            if everything:
                net.restore(edits.original)
                del self._edits[self.source or ""]
            else:
                net.restore(edits.undo.pop())
                edits.steps -= 1
                edits.accuracy_now = self.measure(net)
                if edits.steps == 0:
                    del self._edits[self.source or ""]
            self.version += 1

    # ------------------------------------------------------------------ data
    def data(self) -> Any:
        """The dataset (loaded once, on first use): MNIST, else the embedded 8x8 digits."""
        from ..data import load_dataset, load_default

        with self._data_lock:
            if self._data is None:
                try:
                    if self.dataset_name == "auto":       # the one fallback rule, in full
                        self._data, self._data_error = load_default(self.data_dir)
                    else:
                        self._data = load_dataset(self.dataset_name, self.data_dir)
                except NudgeError as e:
                    raise ApiError(503, f"no dataset available: {e}") from None
            return self._data

    def data_for(self, net: Network) -> Any:
        data = self.data()
        if data.n_inputs != net.sizes[0]:
            raise conflict(f"the model reads {net.sizes[0]} inputs but the {data.name} images "
                           f"have {data.n_inputs} pixels")
        return data

    def example(self, net: Network, split: str, index: int) -> tuple[np.ndarray, int]:
        data = self.data_for(net)
        X, y = (data.X_train, data.y_train) if split == "train" else (data.X_test, data.y_test)
        if not 0 <= index < len(X):
            raise bad(f"index must be from 0 to {len(X) - 1} for the {split} set")
        return X[index].astype(np.float32) / 255, int(y[index])

    def data_info(self) -> dict[str, Any] | None:
        try:
            data = self.data()
        except ApiError as e:
            return {"error": e.message}
        return {"name": data.name, "n_train": len(data.X_train), "n_test": len(data.X_test),
                "side": data.image_shape[0], "n_inputs": data.n_inputs,
                "note": self._data_error}

    # ------------------------------------------------------------------ saved models
    def saved_models(self) -> list[str]:
        if self.save_dir is None:
            return []
        return sorted(p.stem for p in self.save_dir.glob("*.safetensors")   # as saved_path
                      if p.is_file() and SAVE_NAME.fullmatch(p.stem)            # takes them:
                      and p.resolve().parent == self.save_dir)                  # not links out

    def saved_listing(self) -> dict[str, Any]:
        """The save folder as the page lists it: whether there is one, the models' names and
        their details (:meth:`saved_details`)."""
        return {"saving": self.save_dir is not None, "saved": self.saved_models(),
                "saved_details": self.saved_details()}

    def saved_details(self) -> list[dict[str, Any]]:
        """Each saved model's name, architecture and accuracy (or why it cannot be read);
        read once per version of the file."""
        from ..modelfile import load

        out: list[dict[str, Any]] = []
        if self.save_dir is None:                   # no save folder: nothing listed
            return out
        for name in self.saved_models()[:MAX_LISTED]:
            path = self.save_dir / f"{name}.safetensors"
            try:
                st = path.stat()
                key = (st.st_mtime_ns, st.st_size)
                cached = self._saved_info.get(name)
                if cached is None or cached[0] != key:
                    net = load(path)
                    md = net.metadata or {}
                    cached = (key, {"sizes": net.sizes, "activation": net.activation,
                                    "test_accuracy": explain.finite(md.get("test_accuracy")),
                                    "n_test": explain.count(md.get("n_test")),
                                    "dataset": md.get("dataset")})
                    self._saved_info[name] = cached
                out.append({"name": name, **cached[1]})
            except (NudgeError, OSError) as e:
                out.append({"name": name, "error": self.unpathed(e)[:200]})
        return out

    def unpathed(self, error: Exception) -> str:
        """An error about a file of the save folder, as the page is told it: the file by its
        name, the folder as "the save folder" (where the server keeps its files is not the
        page's business)."""
        text = str(error)
        if self.save_dir is not None:
            folder = str(self.save_dir)
            text = text.replace(f"the folder {folder}", "the save folder")
            text = text.replace(folder + os.sep, "").replace(folder, "the save folder")
        return text

    def check_room(self, path: Path) -> None:
        """A new model may be saved as ``path``: the folder holds fewer than
        :data:`MAX_LISTED` (a model saved again under its name takes no more room)."""
        if not path.exists() and len(self.saved_models()) >= MAX_LISTED:
            raise conflict(f"the save folder holds {MAX_LISTED} models already: save over one "
                           "of them (overwrite), or delete some")

    def check_case(self, path: Path) -> None:
        """No other entry of the save folder has ``path``'s name in other letter case: on
        macOS's and Windows' file systems that is the same file, which a save would
        overwrite unasked (compared by name, whatever this file system does)."""
        wanted = path.name.casefold()
        try:
            names = os.listdir(path.parent)
        except OSError:
            return                        # the folder gone: the save itself says so
        for name in names:
            if name != path.name and name.casefold() == wanted:
                other = name[:len(name) - len(".safetensors")]
                raise conflict(f"{path.stem} is {other} in other letter case, which macOS "
                               f"and Windows take for the same file: choose another name, "
                               f"or save over {other}")

    def saved_path(self, name: Any) -> Path:
        if self.save_dir is None:
            raise conflict("saving is off: start the server with nudge serve --save-dir FOLDER")
        if not isinstance(name, str) or not SAVE_NAME.fullmatch(name):
            raise bad("name must be 1 to 64 letters, digits, '-' or '_', starting with a "
                      "letter or digit, and not a device name of Windows (CON, NUL, COM1...): "
                      "it is a name, not a path")
        path = (self.save_dir / f"{name}.safetensors").resolve()
        if path.parent != self.save_dir:
            raise bad("name must not lead out of the save folder")
        return path

