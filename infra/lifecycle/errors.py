"""The two ways a lifecycle command fails, which the CLI turns into exit codes."""


class InputProblem(Exception):
    """Bad input (an argument, option or config value): one line naming it and what is wrong; exit code 2.

    Raised before anything is built, synthesized, created or destroyed.
    """

    def __init__(self, field: str, problem: str):
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class OperationFailed(RuntimeError):
    """An external step failed (cdktf, Azure, a Databricks run): reported as is; exit code 1."""
