"""Paths and switches read from the environment, in one place.

Precedence everywhere in mmfuse: defaults < environment < command-line flags.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Where embeddings, results and converted weights are cached (MMFUSE_CACHE overrides).
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "mmfuse"
# Where the development data lives, relative to the repository root (MMFUSE_DATA overrides).
DEFAULT_SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
# Modes of what mmfuse writes under the cache root (results, transcripts and run tables hold the
# inputs' text): only the owner reads them. Output folders named with -o keep the umask's modes.
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def cache_dir() -> Path:
    """The root cache folder, created on first use."""
    path = Path(os.environ.get("MMFUSE_CACHE", DEFAULT_CACHE_DIR)).expanduser()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)  # results hold the inputs' text
    return path


def is_private(path: str | Path) -> bool:
    """Whether ``path`` lies under the cache root, where mmfuse's files are the owner's only."""
    root = Path(os.environ.get("MMFUSE_CACHE", DEFAULT_CACHE_DIR)).expanduser().resolve()
    return Path(path).expanduser().resolve().is_relative_to(root)


def make_dir(path: str | Path) -> Path:
    """Creates ``path`` and its parents; under the cache root, every folder below the root down
    to ``path`` is made PRIVATE_DIR_MODE, new or not (the root itself is the user's; a folder
    another user owns, such as a shared read-only models folder, is left as it is)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if is_private(path):
        root = cache_dir().resolve()
        folder = path.resolve()
        while folder != root:
            info = folder.stat()
            if info.st_uid == os.getuid() and info.st_mode & 0o777 != PRIVATE_DIR_MODE:
                os.chmod(folder, PRIVATE_DIR_MODE)
            folder = folder.parent
    return path


def use_cache_root(path: Path) -> None:
    """Makes ``path`` the cache root of this process (and of the workers it starts)."""
    os.environ["MMFUSE_CACHE"] = str(Path(path).expanduser().resolve())


def models_cache_dir() -> Path:
    """Folder for weights mmfuse derives once (joined parts, converted checkpoints)."""
    return make_dir(cache_dir() / "models")


def shared_data_dir() -> Path:
    """The development data folder (may not exist)."""
    return Path(os.environ.get("MMFUSE_DATA", DEFAULT_SHARED_DATA)).expanduser()


def online_allowed() -> bool:
    """Whether hub downloads are allowed (off unless MMFUSE_ONLINE=1 or --online)."""
    return os.environ.get("MMFUSE_ONLINE", "0") == "1"


def enforce_offline() -> None:
    """Tells the Hugging Face libraries never to reach the hub unless online use was asked for,
    and ONNX Runtime (the Silero VAD's runtime) never to send its usage events to Microsoft."""
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    if not online_allowed():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def allow_online() -> None:
    """Lets backends download hub models named by id for the rest of this process."""
    os.environ["MMFUSE_ONLINE"] = "1"


# OpenCV's and FFmpeg's log levels unless -v, where the user has not set them; and those
# configure_logging set (-v takes them back).
QUIET_ENVIRONMENT = {"OPENCV_LOG_LEVEL": "ERROR", "OPENCV_FFMPEG_LOGLEVEL": "-8"}
_quieted: dict[str, str] = {}


def _opencv_level(level: str) -> None:
    """Sets OpenCV's log level ("ERROR", "WARNING") where configure_logging chose it and OpenCV
    is loaded already (with a task's modules): it read ``OPENCV_LOG_LEVEL`` at import."""
    cv2 = sys.modules.get("cv2")
    if cv2 is not None and "OPENCV_LOG_LEVEL" in _quieted:
        cv2.utils.logging.setLogLevel(getattr(cv2.utils.logging, f"LOG_LEVEL_{level}"))


def configure_logging(verbose: bool = False, quiet: bool = False) -> None:
    """mmfuse's own INFO lines by default; other libraries' only with --verbose (-v).

    -q keeps warnings and errors only. Hugging Face progress bars are hidden unless -v.
    """
    import logging

    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    if not verbose:  # OpenCV's and FFmpeg's own warnings ("[ WARN:0@...]", "moov atom not
        # found") repeat what the error cell says; -v shows them
        for name, value in QUIET_ENVIRONMENT.items():  # the user's own settings stand
            if name not in os.environ:
                os.environ[name] = _quieted[name] = value
        _opencv_level("ERROR")
        try:
            import av.logging

            av.logging.set_level(av.logging.PANIC)
        except ImportError:  # av is a dependency; keep logging setup import-safe
            pass
    else:  # -v after the sub-command (``run TASK ... -v``) comes after a first, quiet call
        _opencv_level("WARNING")
        for name in _quieted:
            os.environ.pop(name, None)
        _quieted.clear()
    logging.getLogger().setLevel(logging.DEBUG if verbose else logging.WARNING)
    own = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.getLogger("mmfuse").setLevel(own)
    if not verbose:
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except ImportError:  # transformers is a dependency; keep logging setup import-safe
            pass
