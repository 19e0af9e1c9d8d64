"""Errors the engine boundary raises; the web layer maps them to HTTP answers in one place."""


class WorkflowError(Exception):
    """Base of every error app.workflow raises on purpose."""

    status_code = 400


class NotFound(WorkflowError):
    status_code = 404


class Conflict(WorkflowError):
    """Someone else changed the instance first, or the task is no longer open."""

    status_code = 409


class Forbidden(WorkflowError):
    status_code = 403


class InvalidData(WorkflowError):
    """Submitted data does not fit the task's form; `errors` lists field messages."""

    status_code = 422

    def __init__(self, message: str, errors: list[str]):
        super().__init__(message)
        self.errors = errors


class NotWaiting(WorkflowError):
    """A message reached an instance that is not waiting for it; it was recorded, not delivered."""

    status_code = 409


class Problem:
    """One finding about a BPMN document, naming the element it is about."""

    def __init__(self, message: str, element_id: str = "", element_name: str = "", line: int | None = None):
        self.message = message
        self.element_id = element_id
        self.element_name = element_name
        self.line = line

    def __str__(self) -> str:
        where = self.element_id or "document"
        if self.element_name:
            where += f" ({self.element_name})"
        if self.line:
            where += f", line {self.line}"
        return f"{where}: {self.message}"

    def as_dict(self) -> dict:
        return {
            "element_id": self.element_id,
            "element_name": self.element_name,
            "line": self.line,
            "message": self.message,
        }


class DeploymentRefused(WorkflowError):
    """A BPMN document that may not be deployed; `problems` name the elements at fault."""

    status_code = 422

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems
