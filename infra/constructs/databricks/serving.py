"""The env's model serving endpoint for the champion, its inference table and who may query it."""

from __future__ import annotations

from collections.abc import Sequence

from cdktf import ITerraformDependable
from cdktf_cdktf_provider_databricks.model_serving import (
    ModelServing,
    ModelServingAiGateway,
    ModelServingAiGatewayInferenceTableConfig,
    ModelServingAiGatewayRateLimits,
    ModelServingTags,
)
from cdktf_cdktf_provider_databricks.permissions import Permissions
from constructs import Construct

from infra.config import TeamEnv
from infra.constructs.databricks.identity import Principal
from infra.constructs.databricks.unity_catalog import UnityCatalogScope

# Inference tables land in the env's own catalog and `ml` schema as `<prefix>_payload`.
INFERENCE_TABLE_PREFIX = "serving"


def endpoint_name(team_env: TeamEnv) -> str:
    """Unique per workspace; letters, digits, dashes and underscores only (the stem is already that)."""
    return f"{team_env.names.stem}-champion"


def serves_scaled_to_zero(team_env: TeamEnv) -> bool:
    """Ephemeral envs are cut from any base env, prod included: they never keep serving capacity idle."""
    return team_env.settings.serving.scale_to_zero or team_env.is_ephemeral


class ChampionEndpoint(Construct):
    """A serving endpoint created *without* a served model; the validate task serves the champion on it.

    Terraform cannot know whether the registry holds a champion yet: a served entity naming a version that does
    not exist fails the first apply (the open problem of databricks/mlops-stacks issue 217), and a version
    pinned here would be reverted by every deploy after the gate promoted a new one. The provider lets an
    endpoint be created without `config` and treats a config it was never given as computed, never planning a
    change to it (serving/resource_model_serving.go, v1.99.0: `config` SetComputed, "Removing a config ... is a
    no-op"). So Terraform owns the endpoint's name, AI Gateway (inference table, rate limit), tags and
    permissions; `churn validate` owns which version is served (ml/src/churn/serving.py).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        model_name: str,
        catalog: UnityCatalogScope,
        owners: Sequence[Principal],
        readers: Sequence[Principal],
        job_principal: Principal,
        deployer: Principal,
        depends_on: Sequence[ITerraformDependable] = (),
    ) -> None:
        super().__init__(scope, id)
        settings = team_env.settings.serving
        self.name = endpoint_name(team_env)
        self.endpoint = ModelServing(
            self,
            "endpoint",
            name=self.name,
            description=f"Champion of the {model_name} model in {team_env.key}",
            # AI Gateway inference tables: the legacy `config.auto_capture_config` can no longer be enabled on
            # new or existing endpoints since 2026-02-20 (Databricks model serving docs).
            ai_gateway=ModelServingAiGateway(
                inference_table_config=ModelServingAiGatewayInferenceTableConfig(
                    enabled=True,
                    catalog_name=catalog.catalog_ref,
                    schema_name=catalog.schema_ref,
                    table_name_prefix=INFERENCE_TABLE_PREFIX,
                ),
                rate_limits=[
                    ModelServingAiGatewayRateLimits(
                        key="endpoint", calls=settings.rate_limit_per_minute, renewal_period="minute"
                    )
                ],
            ),
            tags=[ModelServingTags(key=k, value=v) for k, v in sorted(team_env.tags.items())],
            # The registered model, its grants and the schema's grants first: the inference table is created in
            # the schema when the endpoint is, and a destroy removes the endpoint before what it writes into.
            depends_on=list(depends_on),
        )
        # The provider adds the caller as CAN_MANAGE when it is missing (permissions/permission_definitions.go,
        # v1.99.0, serving-endpoints: AddCurrentUserAsManage): name the deployer. The job principal moves the
        # served version (update_config takes CAN_MANAGE); owners query, readers only see it.
        self.permissions = Permissions(
            self,
            "permissions",
            serving_endpoint_id=self.endpoint.serving_endpoint_id,
            access_control=[deployer.can("CAN_MANAGE"), job_principal.can("CAN_MANAGE")]
            + [p.can("CAN_QUERY") for p in owners]
            + [p.can("CAN_VIEW") for p in readers],
        )
        self.workload_size = settings.workload_size
        self.scale_to_zero = serves_scaled_to_zero(team_env)

    @property
    def validate_options(self) -> list[str]:
        """The `churn validate` options that make the gate serve the champion here (ml/src/churn/serving.py)."""
        return [
            "--serving-endpoint", self.name,
            "--serving-workload-size", self.workload_size,
            "--serving-scale-to-zero" if self.scale_to_zero else "--no-serving-scale-to-zero",
        ]  # fmt: skip
