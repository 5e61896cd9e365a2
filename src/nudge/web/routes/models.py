"""Routes of the Models view: which model is in use, save the page's, load saved ones."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ...errors import NudgeError
from ..state import SOURCES
from ..validation import ApiError, allowed, bad, conflict, get_choice, read_json
from .common import limits, reply, web


async def model_select(request: Request) -> Response:
    state = web(request)
    data = await read_json(request)
    allowed(data, {"source"})
    source = get_choice(data, "source", SOURCES)
    with state.lock:
        state.require_idle("switch models")
        state.use(source)
    return reply({"ok": True, "model": state.model_info()})


async def model_save(request: Request) -> Response:
    from ...modelfile import save

    state = web(request)
    data = await read_json(request)
    allowed(data, {"name", "overwrite"})
    overwrite = data.get("overwrite", False)
    if not isinstance(overwrite, bool):
        raise bad("overwrite must be true or false")
    path = state.saved_path(data.get("name"))
    state.require_idle("save")
    net, metadata = state.page_model_to_save()

    def check_and_save() -> None:
        with state.save_lock:          # two saves of one name at once: the second one is told
            state.check_case(path)
            if path.exists() and not path.is_file():
                raise conflict(f"{path.name} in the save folder is not a model file (a "
                               "folder?): choose another name")
            if path.exists() and not overwrite:
                raise conflict(f"a model named {path.stem} already exists: choose another "
                               "name, or save over it (overwrite)")
            state.check_room(path)
            save(net, path, **metadata)

    try:
        await run_in_threadpool(check_and_save)
    except NudgeError as e:             # the folder gone, the disk full: said without paths
        raise ApiError(422, state.unpathed(e)) from None
    return reply({"ok": True, "name": path.stem, "saved": state.saved_models(),
                  "message": f"saved {path.name} in the save folder"})


async def model_load(request: Request) -> Response:
    from ...modelfile import load

    state = web(request)
    data = await read_json(request)
    allowed(data, {"name"})
    path = state.saved_path(data.get("name"))
    if path.stem not in state.saved_models():
        raise ApiError(404, f"no saved model named {path.stem}")
    state.require_idle("load another model")
    try:
        net = await limits(request).run("files", load, path)
    except NudgeError as e:
        raise ApiError(422, state.unpathed(e)) from None
    with state.lock:
        state.require_idle("load another model")       # again: a run may have started since
        state.saved_net, state.saved_label = net, path.name
        state.use("saved")
    return reply({"ok": True, "model": state.model_info()})


async def models_list(request: Request) -> Response:
    state = web(request)
    return reply({**await limits(request).run("files", state.saved_listing),
                  "models": state.models(), "model": state.model_info()})
