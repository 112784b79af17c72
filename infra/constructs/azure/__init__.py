"""Azure domain constructs of the platform stack: network, lake storage, workspace, secrets, monitoring, budget."""
