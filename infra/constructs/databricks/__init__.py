"""Constructs of the workspace stack: everything inside one team-env's Databricks workspace."""
