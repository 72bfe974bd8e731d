"""A small Sphinx extension for the book (listed in _config.yml).

- The book is static and must work offline: jupyter-book always loads sphinx-thebe, whose
  page scripts point at a CDN and (registered twice) raise a JavaScript error in every page.
  Live kernels are not part of this book, so its asset hook is removed.
"""

from __future__ import annotations


def _drop_thebe_assets(app, config) -> None:
    listeners = app.events.listeners.get("env-before-read-docs", [])
    for listener in list(listeners):
        if getattr(listener.handler, "__name__", "") == "init_thebe_core":
            listeners.remove(listener)


def setup(app):
    app.connect("config-inited", _drop_thebe_assets, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
