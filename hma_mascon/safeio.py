"""Writing files safely: atomic replacement and an exclusive lock per target.

Every file or directory the project writes goes through :func:`atomic_path`: the writer writes to a
temporary path *beside* the target (same directory, so the final :func:`os.replace` is a rename on
one file system), the result is flushed to disk (``fsync``) and renamed into place only when the
writer returned normally. On any failure -- an exception of the writer, a full disk, a
``KeyboardInterrupt`` (SIGINT) -- the temporary is removed, the previous target is left as it was,
and the error raised names the target.

:func:`exclusive_lock` serialises writers of one target: a lock file ``.<name>.lock`` beside the
target, locked with :func:`fcntl.flock` and holding the writer's pid. A second writer waits up to
``timeout`` seconds and then refuses with :class:`TargetLockedError`, naming the target and the
holder's pid. A lock file left behind by a dead process is not held by the kernel any more and is
taken over. Locks are re-entrant within a process (a command that locks its ``--out`` and then
calls a writer that locks it again does not deadlock).

:func:`deferred_interrupt` holds a SIGINT back until a library call that must not be interrupted
(the HDF5 writer behind netCDF4 deadlocks when interrupted mid-write) has returned, then raises
it, so the temporary is discarded cleanly.

Which library does what: :mod:`os` (``O_CREAT``, ``fsync``, ``replace``), :mod:`fcntl` (``flock``),
:mod:`tempfile` (unique names), :mod:`shutil` (removing a temporary directory). Written by hand: the
order of the steps and the error messages.

Examples
--------
>>> with exclusive_lock(path), atomic_path(path) as tmp:   # doctest: +SKIP
...     ds.to_netcdf(tmp)
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

__all__ = [
    "AtomicWriteError",
    "TargetLockedError",
    "atomic_path",
    "atomic_write_text",
    "check_writable",
    "deferred_interrupt",
    "exclusive_lock",
    "lock_path",
]

_TMP_PREFIX = ".tmp-"
_OLD_PREFIX = ".old-"
#: lock files held by this process: lock path -> [fd, depth]
_HELD: dict[str, list[int]] = {}


class AtomicWriteError(OSError):
    """Writing a target failed; the message names the target and says the previous one is intact."""

    def __init__(self, target, problem: str):
        self.target = str(target)
        self.problem = problem
        super().__init__(f"{target}: {problem}")


class TargetLockedError(AtomicWriteError):
    """Another process is writing the same target (the message names the target and its pid)."""

    def __init__(self, target, problem: str, holder_pid: int | None = None):
        self.holder_pid = holder_pid
        super().__init__(target, problem)


# --------------------------------------------------------------------------------------- fsync
def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:  # pragma: no cover - some file systems cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            _fsync_file(Path(dirpath) / name)
        _fsync_dir(Path(dirpath))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _replace_directory(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``; an existing target is moved aside first and removed after."""
    if not target.exists():
        os.replace(tmp, target)
        return
    old = Path(tempfile.mkdtemp(prefix=_OLD_PREFIX, suffix=f"-{target.name}", dir=target.parent))
    os.rmdir(old)
    os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------------------- atomic writes
def check_writable(target, *, directory: bool = False) -> Path:
    """Check, before any computation, that ``target`` can be written; return it as a Path.

    The parent folder must exist (or be creatable) and accept a new file (probed by creating and
    removing a temporary file, which also works for root and read-only mounts where
    :func:`os.access` does not tell), and an existing ``target`` must be of the expected kind.

    Raises
    ------
    AtomicWriteError
        Naming ``target`` and the problem (a directory where a file is expected, a parent that is a
        file, a parent that cannot be created or written).
    """
    target = Path(target)
    if target.exists() and target.is_dir() != directory:
        kind = "a directory" if target.is_dir() else "a file"
        raise AtomicWriteError(target, f"is {kind}; expected {'a directory' if directory else 'a file'}")
    parent = target.absolute().parent
    missing = [parent, *parent.parents]
    first = next((p for p in missing if p.exists()), None)
    if first is not None and not first.is_dir():
        raise AtomicWriteError(target, f"its parent {first} is a file, not a directory")
    if not parent.exists():
        # probe the nearest existing ancestor, without creating folders the run may never need
        parent = first
    try:
        fd, name = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix="-probe", dir=parent)
    except OSError as exc:
        raise AtomicWriteError(target, f"cannot write into {parent} ({exc.strerror or exc})") from exc
    os.close(fd)
    os.unlink(name)
    return target


@contextlib.contextmanager
def atomic_path(target, *, directory: bool = False, fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` when the block succeeds.

    Parameters
    ----------
    target : path-like
        Final file or directory. Its parent folders are created.
    directory : bool
        The target is a directory: the temporary is created as an empty directory that the block
        fills; an existing target directory is replaced as a whole (moved aside, the new one renamed
        in, the old one removed). A file target: the temporary does not exist yet, its name ends with
        the target's name (so suffix-driven writers, ``.gz`` or ``.nc``, behave the same).
    fsync : bool
        Flush the temporary (every file of a directory) to disk before the rename.

    Yields
    ------
    pathlib.Path
        The temporary path to write.

    Raises
    ------
    AtomicWriteError
        When the block raises an :class:`Exception` or the rename fails: the temporary is removed,
        the previous target is unchanged, the message names the target and the original error
        (chained as ``__cause__``).
    KeyboardInterrupt
        Re-raised after the same clean-up, with the target named in its message.
    """
    target = Path(target)
    if target.exists() and target.is_dir() != directory:
        kind = "a directory" if target.is_dir() else "a file"
        raise AtomicWriteError(target, f"is {kind}; expected {'a directory' if directory else 'a file'}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AtomicWriteError(target, f"cannot create the parent directory ({exc})") from exc
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, suffix=f"-{target.name}", dir=target.parent))
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it 0700; the target gets the usual mode
    else:
        fd, name = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=f"-{target.name}", dir=target.parent)
        os.close(fd)
        tmp = Path(name)
        tmp.unlink()  # writers create it themselves (some refuse an existing file)
    try:
        yield tmp
        if directory:
            if fsync:
                _fsync_tree(tmp)
            _replace_directory(tmp, target)
        else:
            if not tmp.exists():
                raise FileNotFoundError(f"the writer created no file at {tmp}")
            if fsync:
                _fsync_file(tmp)
            os.replace(tmp, target)
        if fsync:
            _fsync_dir(target.parent)
    except KeyboardInterrupt as exc:
        _remove(tmp)
        raise KeyboardInterrupt(f"{target}: interrupted while writing; the previous "
                                f"{'directory' if directory else 'file'} (if any) is unchanged") from exc
    except Exception as exc:
        _remove(tmp)
        what = "directory" if directory else "file"
        raise AtomicWriteError(target, f"writing failed, the previous {what} (if any) is unchanged: "
                                       f"{type(exc).__name__}: {exc}") from exc
    finally:
        if tmp.exists():  # GeneratorExit or a failure inside the clean-up itself
            _remove(tmp)


def atomic_write_text(target, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``target`` atomically (see :func:`atomic_path`); returns the target path."""
    target = Path(target)
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding=encoding)
    return target


@contextlib.contextmanager
def deferred_interrupt(what: str = "the write") -> Iterator[None]:
    """Hold SIGINT back during the block and raise :class:`KeyboardInterrupt` when it ends.

    netCDF4/HDF5 deadlock when a ``KeyboardInterrupt`` arrives inside a write (the clean-up waits
    for a lock the interrupted call still holds), so a writer of such a file runs the library call
    inside this block: an interrupt lets the call finish, then is raised, and
    :func:`atomic_path` discards the temporary. Outside the main thread (where signal handlers
    cannot be set) the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []

    def handler(signum, frame):
        received.append(signum)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt(f"interrupted during {what} (SIGINT held back until the library call returned)")


# --------------------------------------------------------------------------------------- locks
def lock_path(target) -> Path:
    """The lock file of ``target``: ``.<name>.lock`` in the same directory."""
    target = Path(target)
    return target.parent / f".{target.name}.lock"


def _holder(lock: Path) -> tuple[int | None, str]:
    try:
        text = lock.read_text(encoding="utf-8", errors="replace").split()
    except OSError:
        return None, ""
    pid = int(text[0]) if text and text[0].isdigit() else None
    host = text[1] if len(text) > 1 else ""
    return pid, host


def _try_lock(lock: Path) -> int | None:
    """An fd holding ``flock(LOCK_EX)`` on the current lock file, or None when someone else holds it."""
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return None
            raise
        try:  # the holder we waited for may have removed the file: lock the current one
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


@contextlib.contextmanager
def exclusive_lock(target, *, timeout: float = 0.0, poll: float = 0.1) -> Iterator[Path]:
    """Hold an exclusive lock on ``target`` (a lock file beside it) for the duration of the block.

    Parameters
    ----------
    target : path-like
        The file or directory about to be written (it need not exist).
    timeout : float
        Seconds to wait for another writer to finish; 0 (default) refuses at once.
    poll : float
        Seconds between attempts while waiting.

    Yields
    ------
    pathlib.Path
        The lock file (it holds ``"<pid> <host> <unix time>"`` and is removed on release).

    Raises
    ------
    TargetLockedError
        When another live process holds the lock after ``timeout`` seconds; the message names the
        target, the lock file and the holder's pid. A lock file whose writer died is taken over
        (the kernel released its ``flock``).
    AtomicWriteError
        When the lock file cannot be created (e.g. the directory is not writable).
    """
    target = Path(target)
    lock = lock_path(target)
    key = str(lock.absolute())
    if key in _HELD:  # re-entrant within this process
        _HELD[key][1] += 1
        try:
            yield lock
        finally:
            _HELD[key][1] -= 1
        return
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + max(float(timeout), 0.0)
        while (fd := _try_lock(lock)) is None:
            if time.monotonic() >= deadline:
                pid, host = _holder(lock)
                who = f"pid {pid}" + (f" on {host}" if host else "") if pid is not None else "an unknown process"
                raise TargetLockedError(
                    target, f"another writer ({who}) is writing it (lock file {lock}); "
                            f"{'waited %g s; ' % timeout if timeout > 0 else ''}wait for it to finish or choose "
                            "another output", holder_pid=pid)
            time.sleep(poll)
    except TargetLockedError:
        raise
    except OSError as exc:
        raise AtomicWriteError(target, f"cannot create the lock file {lock} ({exc})") from exc
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()} {socket.gethostname()} {time.time():.0f}\n".encode())
    _HELD[key] = [fd, 1]
    try:
        yield lock
    finally:
        del _HELD[key]
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()  # while still holding the lock: waiters re-check the inode
        os.close(fd)
