"""Telco customer churn: Delta feature pipeline, scikit-learn training, MLflow registry and batch scoring."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("churn")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
