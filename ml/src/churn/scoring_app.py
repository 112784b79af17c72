"""MLflow's scoring server application (`mlflow.pyfunc.scoring_server.app`), importable on Starlette 1.x.

MLflow 3.8's `scoring_server.init` registers its endpoints with `app.route(...)`, the decorator Starlette 1.0
removed (the development lock pins fastapi 0.165 / starlette 1.10, where `FastAPI.route` is gone and the server
fails to start). Where the decorator is missing it is restored with Starlette's own `add_route`, which is what
the decorator did; everything else (parsing, schema enforcement, errors, timeouts) is MLflow's code unchanged.
Only the server process imports this module (`uvicorn churn.scoring_app:app`).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

if not hasattr(FastAPI, "route"):

    def _route(
        self: FastAPI,
        path: str,
        methods: list[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
    ) -> Callable:
        def register(endpoint: Callable) -> Callable:
            self.add_route(path, endpoint, methods=methods, name=name, include_in_schema=include_in_schema)
            return endpoint

        return register

    FastAPI.route = _route

# Imported after the decorator exists (scoring_server.app builds the app at import).
from mlflow.pyfunc.scoring_server.app import app

__all__ = ["app"]
