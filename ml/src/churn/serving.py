"""Serving the champion: after the gate, the env's model serving endpoint is pointed at the `champion` version.

Terraform creates the endpoint without a served model (infra/constructs/databricks/serving.py): it cannot know
whether a champion exists, and a version it pinned would be reverted by every later deploy. This module owns the
served version instead. `churn validate` calls `serve_champion` after the gate, promoted or not, so an endpoint
created after the first champion (or one whose last update failed) is brought to the champion by the next run.
Locally there is no endpoint (no --serving-endpoint) and nothing happens.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from churn.errors import ChurnError

# One served entity, named the same whatever the version, so the route never has to change.
SERVED_ENTITY = "champion"
WORKLOAD_SIZES = ("Small", "Medium", "Large")


@dataclass(frozen=True)
class ServingTarget:
    """Where and how the champion is served (the validate task's --serving-* options)."""

    endpoint: str
    workload_size: str = "Small"
    scale_to_zero: bool = False

    def __post_init__(self) -> None:
        if self.workload_size not in WORKLOAD_SIZES:
            raise ChurnError(
                f"--serving-workload-size: {self.workload_size!r} is not one of {', '.join(WORKLOAD_SIZES)}"
            )


@dataclass(frozen=True)
class ServedModel:
    model_name: str  # catalog.schema.model
    version: str


class ServingEndpoints(Protocol):
    def served(self, endpoint: str) -> ServedModel | None:
        """The model version the endpoint serves now (None: nothing yet)."""

    def serve(self, endpoint: str, model: ServedModel, target: ServingTarget) -> None:
        """Start a config update that serves ``model`` with all traffic; does not wait for it to finish."""


class SdkServingEndpoints:
    """ServingEndpoints on a databricks-sdk WorkspaceClient (on a cluster it authenticates as the job's
    principal; the runtimes ship databricks-sdk)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @classmethod
    def from_environment(cls) -> SdkServingEndpoints:
        try:
            from databricks.sdk import WorkspaceClient
        except ImportError as exc:
            raise ChurnError("--serving-endpoint: needs databricks-sdk (shipped by the ML runtimes)") from exc
        logging.getLogger("databricks.sdk").setLevel(logging.ERROR)
        return cls(WorkspaceClient())

    def served(self, endpoint: str) -> ServedModel | None:
        config = self._client.serving_endpoints.get(endpoint).config
        for entity in (config.served_entities or []) if config else []:
            if entity.name == SERVED_ENTITY and entity.entity_name and entity.entity_version:
                return ServedModel(entity.entity_name, str(entity.entity_version))
        return None

    def serve(self, endpoint: str, model: ServedModel, target: ServingTarget) -> None:
        from databricks.sdk.service.serving import Route, ServedEntityInput, TrafficConfig

        self._client.serving_endpoints.update_config(
            endpoint,
            served_entities=[
                ServedEntityInput(
                    name=SERVED_ENTITY,
                    entity_name=model.model_name,
                    entity_version=model.version,
                    workload_size=target.workload_size,
                    scale_to_zero_enabled=target.scale_to_zero,
                )
            ],
            traffic_config=TrafficConfig(
                routes=[Route(served_entity_name=SERVED_ENTITY, traffic_percentage=100)]
            ),
        )


def serve_champion(
    target: ServingTarget | None,
    model_name: str,
    champion_version: str | None,
    endpoints: ServingEndpoints | None = None,
) -> str | None:
    """Point the endpoint at the champion when it serves anything else; a line saying what happened, or None
    when there is no endpoint or no champion yet (nothing to serve is not an error: the first runs of a new env
    may keep the gate in dry-run)."""
    if target is None or champion_version is None:
        return None
    endpoints = endpoints or SdkServingEndpoints.from_environment()
    wanted = ServedModel(model_name, str(champion_version))
    try:
        if endpoints.served(target.endpoint) == wanted:
            return f"endpoint {target.endpoint} already serves {model_name} version {champion_version}"
        endpoints.serve(target.endpoint, wanted, target)
    except ChurnError:
        raise
    except Exception as exc:  # the SDK's errors carry the API's message; one line, the alias stays moved
        first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ChurnError(
            f"--serving-endpoint: could not serve {model_name} version {champion_version} on "
            f"{target.endpoint}: {first_line}; the champion alias is set, re-run validate to retry"
        ) from exc
    return f"endpoint {target.endpoint} is updating to {model_name} version {champion_version}"
