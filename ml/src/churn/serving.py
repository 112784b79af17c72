"""Serving the champion: after the gate, the env's model serving endpoint is pointed at the `champion` version.

Terraform creates the endpoint without a served model (infra/constructs/databricks/serving.py): it cannot know
whether a champion exists, and a version it pinned would be reverted by every later deploy. This module owns the
served version instead. `churn validate` calls `serve_champion` after the gate, promoted or not, so an endpoint
created after the first champion (or one whose last update failed) is brought to the champion by the next run.
Locally there is no endpoint (no --serving-endpoint) and nothing happens.
"""

from __future__ import annotations

import logging
import time
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
    """A served version and the capacity it is served with: a changed `serving.workload_size` or
    `scale_to_zero` is an update too, not only a new champion."""

    model_name: str  # catalog.schema.model
    version: str
    workload_size: str | None = None
    scale_to_zero: bool | None = None


class ServingEndpoints(Protocol):
    def served(self, endpoint: str) -> ServedModel | None:
        """What the endpoint serves, or is updating to while an update runs (None: nothing yet)."""

    def serve(self, endpoint: str, model: ServedModel, target: ServingTarget) -> None:
        """Start a config update that serves ``model`` with all traffic; does not wait for it to finish."""

    def wait_until_idle(self, endpoint: str) -> None:
        """Wait (bounded) while a config update of the endpoint is in progress."""


# The API refuses a config update while another one runs (409 RESOURCE_CONFLICT, "currently updating"): the
# previous validate's, or one started from the UI. Wait for it as long as the provider waits for an update
# (serving/resource_model_serving.go, v1.99.0, DefaultProvisionTimeout), then try once more.
UPDATE_WAIT_SECONDS = 45 * 60
POLL_SECONDS = 15


def _is_conflict(exc: Exception) -> bool:
    return getattr(exc, "error_code", None) == "RESOURCE_CONFLICT" or any(
        cls.__name__ == "ResourceConflict" for cls in type(exc).__mro__
    )


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
        detail = self._client.serving_endpoints.get(endpoint)
        config = detail.pending_config if self._updating(detail) and detail.pending_config else detail.config
        for entity in (config.served_entities or []) if config else []:
            if entity.name == SERVED_ENTITY and entity.entity_name and entity.entity_version:
                size = getattr(entity.workload_size, "value", entity.workload_size)
                return ServedModel(
                    entity.entity_name, str(entity.entity_version), size, entity.scale_to_zero_enabled
                )
        return None

    @staticmethod
    def _updating(detail: Any) -> bool:
        update = getattr(detail.state, "config_update", None) if detail.state else None
        return getattr(update, "value", update) == "IN_PROGRESS"

    def wait_until_idle(self, endpoint: str) -> None:
        deadline = time.monotonic() + UPDATE_WAIT_SECONDS
        while self._updating(self._client.serving_endpoints.get(endpoint)):
            if time.monotonic() >= deadline:
                return  # the retry that follows reports the conflict
            time.sleep(POLL_SECONDS)

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
    """Point the endpoint at the champion when it serves anything else (another version, or the same one with
    other capacity); a line saying what happened, or None when there is no endpoint or no champion yet (nothing
    to serve is not an error: the first runs of a new env may keep the gate in dry-run). An update refused
    because another one runs is retried once that one ends."""
    if target is None or champion_version is None:
        return None
    endpoints = endpoints or SdkServingEndpoints.from_environment()
    wanted = ServedModel(model_name, str(champion_version), target.workload_size, target.scale_to_zero)

    def serve_once() -> str:
        if endpoints.served(target.endpoint) == wanted:
            return f"endpoint {target.endpoint} already serves {model_name} version {champion_version}"
        endpoints.serve(target.endpoint, wanted, target)
        return f"endpoint {target.endpoint} is updating to {model_name} version {champion_version}"

    def refused(exc: Exception) -> ChurnError:  # the SDK's errors carry the API's message; one line
        first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
        return ChurnError(
            f"--serving-endpoint: could not serve {model_name} version {champion_version} on "
            f"{target.endpoint}: {first_line}; the champion alias is set, re-run validate to retry"
        )

    try:
        return serve_once()
    except ChurnError:
        raise
    except Exception as exc:
        if not _is_conflict(exc):
            raise refused(exc) from exc
    try:  # another update was running: once it has ended, the endpoint may already serve the champion
        endpoints.wait_until_idle(target.endpoint)
        return serve_once()
    except ChurnError:
        raise
    except Exception as exc:
        raise refused(exc) from exc
