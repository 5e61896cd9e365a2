"""Shared fixtures.  Full-MNIST tests use $NUDGE_DATA (CI points it at ../shared/mnist)
and skip with a reason where the files are absent."""

import os
import re
from pathlib import Path

import pytest
from hypothesis import settings

# Property-based tests: the default run (the README's test command, CI) tries the same
# examples every time, so its pass or failure is reproducible and never the luck of a draw;
# `pytest -m slow` draws new ones every run (a failure kept in .hypothesis/ to replay), and
# is where new cases are found.  `--hypothesis-profile NAME` chooses either one.
settings.register_profile("reproducible", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)


def pytest_configure(config):
    if config.getoption("hypothesis_profile", None):
        return
    slow = re.search(r"(?<!not )\bslow\b", config.getoption("markexpr") or "")
    settings.load_profile("explore" if slow else "reproducible")


MNIST_FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def mnist_dir() -> Path | None:
    shared = Path(__file__).resolve().parents[2] / "shared/mnist"
    candidates = [os.environ.get("NUDGE_DATA"), shared]
    for c in candidates:
        if c and all((Path(c) / f).is_file() for f in MNIST_FILES):
            return Path(c)
    return None


@pytest.fixture(scope="session")
def mnist_path() -> Path:
    path = mnist_dir()
    if path is None:
        pytest.skip("MNIST files not found: set NUDGE_DATA to the folder with the IDX .gz files")
    return path


@pytest.fixture(scope="session")
def mnist(mnist_path):
    from nudge import load_dataset

    return load_dataset("mnist", data_dir=mnist_path)


@pytest.fixture(scope="session")
def digits():
    from nudge import load_dataset

    return load_dataset("digits")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Never touch the user's cache; never download in tests."""
    if "NUDGE_CACHE" not in os.environ or not os.environ["NUDGE_CACHE"].startswith("/tmp"):
        monkeypatch.setenv("NUDGE_CACHE", str(tmp_path_factory.getbasetemp() / "nudge-cache"))


@pytest.fixture(scope="module")
def fitted_model(tmp_path_factory, digits):
    """A 64-16-16-10 model file trained two epochs on the 8x8 digits (read, never written)."""
    from nudge import Network, save

    net = Network([64, 16, 16, 10], seed=7)
    net.fit(digits.X_train, digits.y_train, epochs=2, batch_size=10, learning_rate=3.0, seed=7,
            monitor_train_cost=False)
    path = tmp_path_factory.mktemp("m") / "digits.safetensors"
    save(net, path, dataset="digits")
    return str(path)


@pytest.fixture
def saturated_model(tmp_path):
    """A float64 64-10 network whose sigmoid outputs are exactly 0 (z = -1000, as after a
    diverged run): every example's delta a(1 - a)(...) is 0, so the gradient is exactly 0,
    in float32 and float64 alike; and its model file: ``(net, path)``."""
    import numpy as np

    from nudge import Network, save

    net = Network([64, 10], seed=0).astype(np.float64)
    net.weights[0][:] = 0
    net.biases[0][:] = -1000
    path = tmp_path / "saturated.safetensors"
    save(net, path, dataset="digits")
    return net, str(path)
