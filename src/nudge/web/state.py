"""What the server holds between requests: the models, the dataset and the training run."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import NudgeError
from ..network import Network
from . import explain
from .training import TrainingJob
from .validation import SAVE_NAME, ApiError, bad, conflict


class WebState:
    """The models, the dataset and the training run the page works with."""

    def __init__(self, model_path: str | Path | None = None, save_dir: str | Path | None = None,
                 dataset: str = "auto", data_dir: str | Path | None = None) -> None:
        from ..modelfile import load

        self.dataset_name = dataset
        self.data_dir = data_dir
        self._data: Any = None
        self._data_error: str | None = None
        self._data_lock = threading.Lock()
        self.lock = threading.RLock()
        self.save_dir = Path(save_dir).resolve() if save_dir else None
        if self.save_dir is not None and not self.save_dir.is_dir():
            raise NudgeError(f"--save-dir {save_dir}: no such folder; create it first")
        self.file_net: Network | None = None
        self.file_label: str | None = None
        if model_path is not None:
            self.file_net = load(model_path)
            self.file_label = Path(model_path).name
        self.page_net: Network | None = None
        self.net: Network | None = None
        self.source: str | None = None
        self.version = 0
        self.job: TrainingJob | None = None
        if self.file_net is not None:
            self.use("file")

    # ------------------------------------------------------------------ models
    def use(self, source: str) -> None:
        if source == "file":
            if self.file_net is None:
                raise conflict("no model was given on the command line (nudge serve --model "
                               "FILE) or loaded from the save folder")
            self.net = self.file_net.copy()       # gradient steps never touch the file's copy
            self.net.metadata = dict(self.file_net.metadata)
        else:
            if self.page_net is None:
                raise conflict("no model has been trained on this page yet")
            self.net = self.page_net
        self.source = source
        self.version += 1

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
        if self.net is None:
            return None
        info = explain.model_payload(self.net)
        training = self.job is not None and self.job.active and self.net is self.job.net
        info.update(source=self.source, training=training, version=self.version,
                    label=self.file_label if self.source == "file" else "trained on this page")
        return info

    # ------------------------------------------------------------------ data
    def data(self) -> Any:
        """The dataset (loaded once, on first use): MNIST, else the embedded 8x8 digits."""
        from ..data import load_dataset
        from ..errors import DataError

        with self._data_lock:
            if self._data is None:
                try:
                    if self.dataset_name == "auto":
                        try:
                            self._data = load_dataset("mnist", self.data_dir)
                        except DataError as e:
                            self._data_error = f"MNIST not available ({str(e)[:160]})"
                            self._data = load_dataset("digits")
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
        return sorted(p.stem for p in self.save_dir.glob("*.safetensors")
                      if p.is_file() and SAVE_NAME.match(p.stem))

    def saved_path(self, name: Any) -> Path:
        if self.save_dir is None:
            raise conflict("saving is off: start the server with nudge serve --save-dir FOLDER")
        if not isinstance(name, str) or not SAVE_NAME.match(name):
            raise bad("name must be 1 to 64 letters, digits, '-' or '_', starting with a "
                      "letter or digit (it is a name, not a path)")
        path = (self.save_dir / f"{name}.safetensors").resolve()
        if path.parent != self.save_dir:
            raise bad("name must not lead out of the save folder")
        return path

