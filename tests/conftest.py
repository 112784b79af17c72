"""Imported before any test module: ``infra`` picks the jsii runtime's Node before the first cdktf import starts it."""

import infra  # noqa: F401
