"""The team's exploration notebook, deployed from the repository into the team folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cdktf import Annotations, AssetType, ITerraformDependable, TerraformAsset
from cdktf_cdktf_provider_databricks.notebook import Notebook
from constructs import Construct


class TeamNotebook(Construct):
    """Uploads one source-format notebook; skipped, with a synth warning, while the file does not exist."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source: Path,
        workspace_path: str,
        depends_on: Sequence[ITerraformDependable] = (),
    ) -> None:
        super().__init__(scope, id)
        self.notebook: Notebook | None = None
        if not source.is_file():
            Annotations.of(self).add_warning(f"notebook {source} not found; {workspace_path} is not deployed")
            return
        # The asset is copied next to the stack and referenced by a relative path: no machine path in the
        # JSON, and a changed notebook changes the path, so Terraform re-uploads it.
        asset = TerraformAsset(self, "source", path=str(source), type=AssetType.FILE)
        self.notebook = Notebook(
            self,
            "notebook",
            path=workspace_path,
            source=asset.path,
            language="PYTHON",
            depends_on=list(depends_on),
        )
