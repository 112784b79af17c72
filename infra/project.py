"""Where the project's own files live: the repository root that holds `infra/`, `ml/`, `cdktf.json`.

The wheel's sources (`ml/`), its output (`dist/`), the cdktf output (`cdktf.out/`) and its lock are found from
here, never from the working directory, so a command run elsewhere with `--config` reads and writes the same
files as one run at the root (and cdktf finds its `node_modules`).
"""

from pathlib import Path

import infra


def project_root() -> Path:
    return Path(infra.__file__).resolve().parent.parent
