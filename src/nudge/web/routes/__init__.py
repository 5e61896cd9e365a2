"""The server's endpoints, grouped by feature: the model and what it explains
(:mod:`.explain`), live training (:mod:`.training`), saved models (:mod:`.models`),
full-batch gradient descent against SGD from one start (:mod:`.descent`).

Each handler is a small async function of the request; it finds the server's
state with :func:`.common.web` and raises :class:`~nudge.web.validation.ApiError`
for a request it refuses (the server turns that into a JSON error).
"""

from __future__ import annotations

from . import descent, explain, models, training

GET, POST = ["GET"], ["POST"]

#: (path, handler, methods)
API = [
    ("/api/state", explain.get_state, GET),
    ("/api/predict", explain.predict, POST),
    ("/api/example", explain.example, GET),
    ("/api/neuron", explain.neuron, GET),
    ("/api/weights", explain.weights, GET),
    ("/api/nudges", explain.nudges, POST),
    ("/api/nudges/step", explain.nudge_step, POST),
    ("/api/nudges/undo", explain.nudge_undo, POST),
    ("/api/mistakes", explain.mistakes, GET),
    ("/api/sensitivity", explain.sensitivity, GET),
    ("/api/descent", descent.descent_run, POST),
    ("/api/train/start", training.train_start, POST),
    ("/api/train/pause", training.train_pause, POST),
    ("/api/train/resume", training.train_resume, POST),
    ("/api/train/step", training.train_step, POST),
    ("/api/train/set", training.train_set, POST),
    ("/api/train/stop", training.train_stop, POST),
    ("/api/train/reset", training.train_reset, POST),
    ("/api/train/state", training.train_state, GET),
    ("/api/train/stream", training.train_stream, GET),
    ("/api/models", models.models_list, GET),
    ("/api/models/select", models.model_select, POST),
    ("/api/models/save", models.model_save, POST),
    ("/api/models/load", models.model_load, POST),
]

__all__ = ["API"]
