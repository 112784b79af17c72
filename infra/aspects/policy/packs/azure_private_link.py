"""What the rules of the Azure packs need to know about private endpoints: which sub-resources of a resource
have an endpoint in the same stack. Not a pack itself: the storage, vault and workspace packs share it."""

from __future__ import annotations

from infra.aspects.policy.engine import RuleContext, first_block, reference


def private_endpoint_subresources(ctx: RuleContext) -> set[str]:
    """Sub-resource names of every private endpoint of the stack that connects to the resource under check."""
    target = reference(ctx.address)
    found: set[str] = set()
    for endpoint in ctx.stack.resources("azurerm_private_endpoint"):
        connection = first_block(endpoint.config.get("private_service_connection"))
        if connection.get("private_connection_resource_id") == target:
            found.update(connection.get("subresource_names") or [])
    return found


def missing_private_endpoints(ctx: RuleContext, wanted: tuple[str, ...], what: str) -> str | None:
    missing = [name for name in wanted if name not in private_endpoint_subresources(ctx)]
    return f"{what} needs private endpoints for {', '.join(missing)}" if missing else None
