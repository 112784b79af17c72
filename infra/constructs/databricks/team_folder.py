"""The team's folder in the workspace: home of its notebooks and its MLflow experiment."""

from __future__ import annotations

from collections.abc import Sequence

from cdktf_cdktf_provider_databricks.directory import Directory
from cdktf_cdktf_provider_databricks.permissions import Permissions
from constructs import Construct

from infra.config import TeamEnv
from infra.constructs.databricks.identity import Principal


class TeamFolder(Construct):
    """`/Teams/<team>/<env>`, managed by the team's owner groups and readable by its readers.

    Owners need CAN_MANAGE here: on a group-assigned (dedicated) cluster, notebooks and MLflow act with the
    group's permissions and expect the group to manage the folder they work in.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        owners: Sequence[Principal],
        readers: Sequence[Principal],
        deployer: Principal,
    ) -> None:
        super().__init__(scope, id)
        self.path = f"/Teams/{team_env.team.name}/{team_env.env}"
        self.directory = Directory(
            self,
            "folder",
            path=self.path,
            # Permanent envs keep what people saved here; a throwaway env must go without manual cleanup.
            delete_recursive=team_env.is_ephemeral,
        )
        Permissions(
            self,
            "folder-permissions",
            directory_path=self.directory.path,
            access_control=[p.can("CAN_MANAGE") for p in (*owners, deployer)]
            + [p.can("CAN_READ") for p in readers],
        )
