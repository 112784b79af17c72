"""The team-env's resource group as the platform stack's resources reference it."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_azurerm.resource_group import ResourceGroup


@dataclass(frozen=True, kw_only=True)
class ResourceGroupRef:
    """References (tokens) to the group's attributes, so each resource placed in it depends on it.

    Read once per stack: every attribute read from a binding is a round trip to the jsii runtime, and a dozen
    resources each read the group's name and location.
    """

    name: str
    location: str
    id: str

    @classmethod
    def of(cls, group: ResourceGroup) -> ResourceGroupRef:
        return cls(name=group.name, location=group.location, id=group.id)
