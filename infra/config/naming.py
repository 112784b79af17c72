"""Azure and Databricks names derived from the config, each checked against the service's own rules.

Names are pure functions of (prefix, team, env): the same config always yields the same names, so a fresh
checkout can find every resource again. Globally unique names (storage accounts, key vaults) get a short
stable hash of the full identity: 48 bits for storage accounts, 44 for Key Vaults, so two identities that share
their readable part (teams with a long common prefix, ephemeral names that differ late) still get different names;
unique_names.py checks the whole config (and each new ephemeral env) for the collisions left.
"""

import hashlib
import re
import unicodedata
from dataclasses import dataclass

# name kind -> (regex the whole name must match, human description of the rule)
AZURE_NAME_RULES: dict[str, tuple[str, str]] = {
    "resource_group": (
        r"[-\w.()]{1,89}[-\w()]",
        "1-90 letters, digits, '-', '_', '.', '()' not ending in '.'",
    ),
    "virtual_network": (r"[A-Za-z0-9][-\w.]{0,62}\w", "2-64 letters, digits, '-', '_', '.'"),
    "subnet": (r"[A-Za-z0-9][-\w.]{0,78}\w", "1-80 letters, digits, '-', '_', '.'"),
    "network_security_group": (r"[A-Za-z0-9][-\w.]{0,78}\w", "1-80 letters, digits, '-', '_', '.'"),
    "databricks_workspace": (r"[A-Za-z0-9][-\w]{1,62}", "3-64 letters, digits, '-', '_'"),
    "access_connector": (r"[A-Za-z0-9][-\w.]{1,62}", "3-64 letters, digits, '-', '_', '.'"),
    "storage_account": (r"[a-z0-9]{3,24}", "3-24 lowercase letters and digits"),
    "key_vault": (
        r"(?!.*--)[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]",
        "3-24 letters, digits and single hyphens, starting with a letter",
    ),
    "log_analytics_workspace": (r"[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]", "4-63 letters, digits, '-'"),
    "budget": (r"[\w-]{1,63}", "1-63 letters, digits, '-', '_'"),
    # Unity Catalog identifiers are kept to plain lowercase so they never need quoting in SQL.
    "uc_identifier": (r"[a-z][a-z0-9_]{0,254}", "lowercase letters, digits, '_', starting with a letter"),
}


# S3 general purpose bucket naming rules (AWS S3 User Guide, "General purpose bucket naming rules"): the
# prefixes and suffixes are reserved for access points, Object Lambda, Multi-Region Access Points, directory
# and table buckets; S3 refuses them at create time, after the plan looked fine.
S3_BUCKET = r"(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
S3_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
S3_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
# IAM (and most AWS) tag values: Unicode letters, digits, white space and _ . : / = + - @, at most 256
# (IAM User Guide, "Tagging IAM resources"); an address such as o'neil@example.com is refused.
AWS_TAG_VALUE_SYMBOLS = frozenset("_.:/=+-@")


def s3_bucket_problem(name: str) -> str | None:
    """Why S3 refuses ``name`` as a bucket name, or None."""
    if not re.fullmatch(S3_BUCKET, name):
        return (
            f"S3 bucket name {name!r} is invalid: must be 3-63 lowercase letters, digits, '.' and '-', starting "
            "and ending with a letter or digit, without '..'"
        )
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
        return f"S3 bucket name {name!r} is invalid: must not be formatted as an IP address"
    reserved = [p for p in S3_RESERVED_PREFIXES if name.startswith(p)]
    reserved += [s for s in S3_RESERVED_SUFFIXES if name.endswith(s)]
    if reserved:
        return f"S3 bucket name {name!r} is invalid: {reserved[0]!r} is reserved by S3"
    return None


def aws_tag_value_problem(value: str) -> str | None:
    """Why AWS (IAM roles included) refuses ``value`` as a tag value, or None."""
    if len(value) > 256:
        return f"{value[:20]!r}... is longer than the 256 characters an AWS tag value may have"
    bad = sorted({c for c in value if c not in AWS_TAG_VALUE_SYMBOLS and not _letter_digit_or_space(c)})
    if bad:
        return f"{value!r} holds {''.join(bad)!r}, which AWS tag values cannot (letters, digits, spaces, _.:/=+-@)"
    return None


def _letter_digit_or_space(char: str) -> bool:
    return unicodedata.category(char)[0] in "LNZ"


def stable_hash(*parts: str, length: int = 6) -> str:
    """A short lowercase hex hash of the parts; stable across machines and Python versions."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def name_problem(kind: str, name: str) -> str | None:
    """Why ``name`` breaks the naming rule for ``kind``, or None when it is valid."""
    pattern, rule = AZURE_NAME_RULES[kind]
    if re.fullmatch(pattern, name):
        return None
    return f"derived {kind.replace('_', ' ')} name {name!r} is invalid: must be {rule}"


@dataclass(frozen=True, kw_only=True)
class EnvNames:
    """Every name one team-environment uses, in Azure and in Databricks."""

    stem: str
    resource_group: str
    managed_resource_group: str
    virtual_network: str
    host_subnet: str
    container_subnet: str
    network_security_group: str
    databricks_workspace: str
    access_connector: str
    storage_account: str
    key_vault: str
    log_analytics_workspace: str
    budget: str
    catalog: str
    platform_stack: str
    workspace_stack: str
    account_stack: str
    """Databricks account-level resources (databricks_mws_*): only AWS team-envs have this stack."""

    def workspace_resource_id(self, subscription_id: str) -> str:
        """ARM ID of the env's Databricks workspace (what databricks-sdk's azure_workspace_resource_id takes)."""
        return azure_workspace_resource_id(subscription_id, self.resource_group, self.databricks_workspace)

    def problems(self) -> list[str]:
        checks = {
            "resource_group": [self.resource_group, self.managed_resource_group],
            "virtual_network": [self.virtual_network],
            "subnet": [self.host_subnet, self.container_subnet],
            "network_security_group": [self.network_security_group],
            "databricks_workspace": [self.databricks_workspace],
            "access_connector": [self.access_connector],
            "storage_account": [self.storage_account],
            "key_vault": [self.key_vault],
            "log_analytics_workspace": [self.log_analytics_workspace],
            "budget": [self.budget],
            "uc_identifier": [self.catalog],
        }
        return [p for kind, names in checks.items() for n in names if (p := name_problem(kind, n))]


def azure_workspace_resource_id(subscription_id: str, resource_group: str, workspace: str) -> str:
    return (
        f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.Databricks/workspaces/{workspace}"
    )


def env_names(*, prefix: str, team: str, env: str) -> EnvNames:
    """Derive the names of one team-environment. ``env`` is dev/staging/prod or an ephemeral env's name."""
    stem = f"{prefix}-{team}-{env}"
    digest = stable_hash(prefix, team, env, length=12)
    owner_part = re.sub(r"[^a-z0-9]", "", f"{prefix}{team}".lower())
    env_part = re.sub(r"[^a-z0-9]", "", env.lower())[:3]

    def readable(length: int) -> str:  # the start of prefix+team, then of the env, so dev and prod read apart
        return owner_part[: length - len(env_part)] + env_part

    return EnvNames(
        stem=stem,
        resource_group=f"rg-{stem}",
        managed_resource_group=f"rg-{stem}-dbw-managed",
        virtual_network=f"vnet-{stem}",
        host_subnet=f"snet-{stem}-host",
        container_subnet=f"snet-{stem}-container",
        network_security_group=f"nsg-{stem}-dbw",
        databricks_workspace=f"dbw-{stem}",
        access_connector=f"dbac-{stem}",
        # st + up to 10 readable chars + 12 hash chars (48 bits) = at most 24.
        storage_account=f"st{readable(10)}{digest[:12]}",
        # kv- + up to 9 readable chars + - + 11 hash chars (44 bits) = at most 24.
        key_vault=f"kv-{readable(9)}-{digest[:11]}",
        log_analytics_workspace=f"log-{stem}",
        budget=f"budget-{stem}",
        catalog=re.sub(r"[^a-z0-9_]", "_", f"{prefix}_{team}_{env}".lower()),
        platform_stack=f"{team}-{env}-platform",
        workspace_stack=f"{team}-{env}-workspace",
        account_stack=f"{team}-{env}-account",
    )
