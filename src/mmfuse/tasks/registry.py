"""The task registry: ``mmfuse run NAME`` finds a task here.

Tasks register themselves with ``@register_task(NAME)``; their modules are imported lazily,
on the first ``get_task`` that names them, so ``mmfuse --help`` stays fast (the encoders'
``register_backend`` pattern). Adding a task is a module (or package) and one line below.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from mmfuse.errors import UsageError
from mmfuse.tasks.base import Task

# Task name -> the module that registers it (one line per task).
TASK_MODULES = {
    "social-media": "mmfuse.tasks.social_media",
    "encode": "mmfuse.tasks.encode",
    "label": "mmfuse.tasks.label",
    "transcribe": "mmfuse.tasks.transcribe",
    "screening": "mmfuse.tasks.screening",
    "wildlife": "mmfuse.tasks.wildlife",
}

_TASKS: dict[str, type[Task]] = {}


def register_task(name: str) -> Callable[[type[Task]], type[Task]]:
    """Class decorator: the task class runs as ``mmfuse run NAME``."""

    def wrap(cls: type[Task]) -> type[Task]:
        cls.name = name
        _TASKS[name] = cls
        return cls

    return wrap


def task_names() -> list[str]:
    """Every registered task's name, in registration order."""
    return list(dict.fromkeys([*TASK_MODULES, *_TASKS]))


def get_task(name: str) -> type[Task]:
    """The task class registered as ``name``.

    Raises:
        UsageError: no task has that name.
    """
    if name not in _TASKS and name in TASK_MODULES:
        importlib.import_module(TASK_MODULES[name])
    if name not in _TASKS:
        raise UsageError(f"unknown task {name!r}; choose one of {', '.join(task_names())}")
    return _TASKS[name]


def task_summary(name: str) -> str:
    """The first line of the task module's docstring (the ``mmfuse run --help`` line)."""
    module = importlib.import_module(get_task(name).__module__)
    return (module.__doc__ or name).strip().splitlines()[0].replace("``", "")
