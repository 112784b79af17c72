"""CDKTF app and lifecycle CLI for per-team Azure Databricks environments."""

import os

# jsii prints a page-wide banner on every run because Node 20 passed its end of life; the bindings work, and
# the banner buries our own one-line errors. Users who want it back can set the variable to "".
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
