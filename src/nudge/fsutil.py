"""Reading and writing files safely: the one atomic write, and reads that refuse surprises.

:func:`atomic_write_bytes` is how nudge writes every file it makes (models, figures, the
decoded-data cache); a sweep's results file, which grows a line per run, is appended to
with :func:`append_whole` instead.  What the atomic write promises:

* a reader sees the old file or the new one, never a half-written file: the bytes go to
  a temporary file in the same folder, are flushed to the disk (``fsync``) and then
  renamed over the target (``os.replace``, atomic on POSIX);
* where the kernel allows it (Linux, most local file systems) the temporary file has no
  name until it is complete (``O_TMPFILE``), so a save killed with ``kill -9`` leaves
  nothing behind; elsewhere it is ``.NAME.PID.RANDOM.tmp``, and such files left by a
  process that no longer runs (or older than a day) are removed by the next write to
  the same folder;
* only regular files are replaced: a folder, a device, a FIFO or a socket at the target
  is refused, as is a read-only file (no write permission bits);
* a symbolic link stays a link: the file it points to is replaced;
* the file's permission bits are kept (a new file gets ``0666`` less the umask);
* a file with several hard links: this name gets the new contents, the other names keep
  the old ones (an atomic replace cannot change them all; a write in place could leave
  every one of them half-written).

Errors are :class:`~nudge.errors.NudgeError` with one line saying what to do.
"""

from __future__ import annotations

import errno
import glob
import os
import secrets
import stat
import time
from pathlib import Path
from typing import Any, BinaryIO

from .errors import NudgeError, short_repr

#: a temporary file older than this is stale even if its process id is in use again
STALE_SECONDS = 24 * 3600
_PREFIX_CHARS = 100          # of the target's name in a temporary file's name

_KINDS = [(stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISSOCK, "a socket")]


def as_path(path: Any, what: str = "path") -> Path:
    """``path`` (a str or an os.PathLike) as a Path, or a one-line error naming ``what``:
    None, a number or bytes was pathlib's TypeError, and an empty name (``--out ""``, an
    unset shell variable) was pathlib's ".", the current folder."""
    if not isinstance(path, (str, os.PathLike)):
        raise NudgeError(f"{what} must be a file name (a str or a Path), not "
                         f"{short_repr(path)}")
    if os.fspath(path) == "":
        raise NudgeError(f'{what}: the name is empty (""); give a name')
    return Path(path)


def file_kind(mode: int) -> str:
    """What a file of ``mode`` (``os.stat``'s ``st_mode``) is, for a message: "a folder",
    "a FIFO (named pipe)"..."""
    return next((name for test, name in _KINDS if test(mode)), "a special file")


def os_reason(e: OSError) -> str:
    """A short reason for a failed file operation, with what usually helps."""
    reasons: dict[int | None, str] = {          # looked up by e.errno, which may be None
        errno.ENOSPC: "the disk is full; free some space or choose another place",
        errno.EDQUOT: "the disk quota is exhausted; free some space or choose another place",
        errno.EFBIG: "the file is larger than this process may write (ulimit -f) or the file "
                     "system allows; raise the limit or choose another place",
        errno.EROFS: "the file system is read-only; choose another place",
        errno.ENAMETOOLONG: "the name is too long for this file system; choose a shorter one",
        errno.EACCES: "permission denied; choose a place you may write to",
        errno.EPERM: "operation not permitted; choose a place you may write to",
        errno.ENOENT: "no such file or folder",
        errno.ELOOP: "too many levels of symbolic links",
    }
    return reasons.get(e.errno, e.strerror or type(e).__name__)


def _folder(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def _check_name(path: Path) -> None:
    try:
        name_max = os.pathconf(_folder(path), "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    size = len(os.fsencode(path.name))
    if size > name_max:
        raise NudgeError(f"{str(path)[:60]}...: the file name is {size} bytes long, this file "
                         f"system allows {name_max}; choose a shorter name")


def _stat(path: Path, follow: bool = True) -> os.stat_result | None:
    """``os.stat`` of ``path``, None if there is nothing there, else a one-line error."""
    try:
        return os.stat(path, follow_symlinks=follow)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError) as e:
        reason = os_reason(e) if isinstance(e, OSError) else str(e)
        raise NudgeError(f"{str(path)[:200]}: cannot be used ({reason})") from None


def not_a_folder(path: str | Path) -> str | None:
    """None if ``path`` is a folder, else why not, for an error message: "a file, not a
    folder" or "no such folder"."""
    path = Path(path).expanduser()
    if path.is_dir():
        return None
    return "a file, not a folder" if path.exists() else "no such folder"


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two names are one file once links are followed (what an atomic write to one
    replaces; another hard link to the file keeps the old contents, see above)."""
    return os.path.realpath(a) == os.path.realpath(b)


def write_target(path: str | Path) -> tuple[Path, int | None]:
    """The file a write to ``path`` replaces (a symlink's target) and its permission bits
    (None for a new file), after checking that it may be replaced; see the module."""
    path = as_path(path, "the file to write")
    _check_name(path)
    link = _stat(path, follow=False)
    target = path
    if link is not None and stat.S_ISLNK(link.st_mode):
        target = Path(os.path.realpath(path))
        _check_name(target)
    folder = _folder(target)
    via = f" (the target of the link {path})" if target != path else ""
    folder_st = _stat(folder)
    if folder_st is None or not stat.S_ISDIR(folder_st.st_mode):
        raise NudgeError(f"{target}{via}: the folder {folder} does not exist; create it or "
                         "choose another path")
    st = _stat(target)
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            example = "figure.png" if target.suffix.lower() == ".png" else "model.safetensors"
            raise NudgeError(f"{target}{via} is a folder; give a file name such as "
                             f"{target / example}")
        if not stat.S_ISREG(st.st_mode):
            raise NudgeError(f"{target}{via} is {file_kind(st.st_mode)}, not a regular file; "
                             "nudge only replaces regular files: choose a file name")
        if not st.st_mode & 0o222 or not os.access(target, os.W_OK):
            raise NudgeError(f"{target}{via} is read-only; make it writable (chmod u+w) or "
                             "choose another name")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise NudgeError(f"{target}{via}: the folder {folder} is not writable; choose "
                         "another path")
    return target, None if st is None else stat.S_IMODE(st.st_mode)


def check_writable(path: str | Path, size: int | None = None) -> Path:
    """Fail early (before a long training run) if ``path`` cannot be written: the checks of
    :func:`write_target`, a real test file in the folder, and ``size`` bytes of free space."""
    target, _ = write_target(path)
    folder = _folder(target)
    probe = folder / f"{_temp_prefix(target)}{os.getpid()}.probe.tmp"   # stale: cleaned too
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise NudgeError(f"{path}: cannot be written ({os_reason(e)})") from None
    if size is not None:
        try:
            vfs = os.statvfs(folder)
            free = vfs.f_bavail * vfs.f_frsize
        except OSError:
            free = None
        if free is not None and free < size:
            raise NudgeError(f"{path}: only {free / 1e6:.1f} MB are free on the disk that "
                             f"holds {folder}, and the file needs about {size / 1e6:.1f} MB; "
                             "free some space or choose another place")
    return Path(path)


def _temp_prefix(target: Path) -> str:
    return f".{target.name[:_PREFIX_CHARS]}."


def clean_stale_temps(target: Path) -> int:
    """Remove the temporary files of interrupted writes to ``target`` (their process is
    gone, or they are older than :data:`STALE_SECONDS`); returns how many."""
    folder, prefix, removed = _folder(target), _temp_prefix(target), 0
    try:
        candidates = list(folder.glob(f"{glob.escape(prefix)}*.tmp"))
    except OSError:
        return 0
    for tmp in candidates:
        parts = tmp.name[len(prefix):].split(".")
        if len(parts) != 3 or not parts[0].isdigit():
            continue
        pid = int(parts[0])
        try:
            old = time.time() - tmp.lstat().st_mtime > STALE_SECONDS
            if pid != os.getpid() and (old or not _alive(pid)):
                tmp.unlink()
                removed += 1
        except OSError:
            continue
    return removed


def _umask() -> int:
    """The process's umask, read without changing it where Linux tells it (os.umask sets
    it, briefly, for every thread)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


_NAMELESS_WORKS = True


def _link_nameless(fd: int, name: Path) -> bool:
    """Give the nameless file ``fd`` the name ``name``: ``linkat(fd, "", AT_EMPTY_PATH)``
    (Linux 6.10+, or with CAP_DAC_READ_SEARCH), else through ``/proc/self/fd``.  False,
    and no more tries in this process, where neither works."""
    global _NAMELESS_WORKS
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.linkat(fd, b"", -100, os.fsencode(name), 0x1000) == 0:   # AT_FDCWD, AT_EMPTY_PATH
            return True
    except (OSError, AttributeError, TypeError):
        pass
    try:
        os.link(f"/proc/self/fd/{fd}", name, follow_symlinks=True)
        return True
    except OSError:
        _NAMELESS_WORKS = False
        return False


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def append_whole(fd: int, data: bytes) -> None:
    """Append ``data`` to the file open (``O_APPEND``, and held by this process alone) as
    ``fd`` and flush it to the disk, or leave the file as it was: a write cut short (the
    disk full, a file-size limit) is cut off again before its OSError is raised."""
    size = os.fstat(fd).st_size
    try:
        _write_all(fd, data)
        os.fsync(fd)
    except OSError:
        try:
            os.ftruncate(fd, size)
        except OSError:
            pass
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Replace the file at ``path`` (or create it) with ``data``, atomically; see the module
    for what is guaranteed.  Returns the path written (a symlink's target)."""
    target, mode = write_target(path)
    if mode is None:
        mode = 0o666 & ~_umask()
    folder = _folder(target)
    clean_stale_temps(target)
    tmp = folder / f"{_temp_prefix(target)}{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = None
    try:
        try:                                   # nameless until complete: nothing to leave
            if not _NAMELESS_WORKS:
                raise OSError("nameless temporary files cannot be linked here")
            fd = os.open(folder, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o600)
            named = False
        except (AttributeError, OSError):
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            named = True
        _write_all(fd, data)
        os.fsync(fd)
        os.fchmod(fd, mode)
        if not named and not _link_nameless(fd, tmp):    # write it again, with a name
            os.close(fd)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            _write_all(fd, data)
            os.fsync(fd)
            os.fchmod(fd, mode)
        os.close(fd)
        fd = None
        os.replace(tmp, target)
    except BaseException as e:
        if fd is not None:
            os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise NudgeError(f"{path}: could not be saved ({os_reason(e)})") from None
        raise
    try:                                       # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    return target


def open_regular(path: str | Path, max_bytes: int | None = None) -> BinaryIO:
    """Open ``path`` for reading, refusing what is not a regular file (a FIFO would block,
    a device never end) and files over ``max_bytes``; errors name the path."""
    path = as_path(path, "the file to read")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        raise NudgeError(f"{str(path)[:200]}: file not found") from None
    except (OSError, ValueError) as e:
        reason = os_reason(e) if isinstance(e, OSError) else str(e)
        raise NudgeError(f"{str(path)[:200]}: cannot be read ({reason})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NudgeError(f"{path} is {file_kind(st.st_mode)}, not a regular file; give a file")
        if max_bytes is not None and st.st_size > max_bytes:
            raise NudgeError(f"{path}: {st.st_size:,} bytes is more than the {max_bytes:,} "
                             "nudge reads from such a file; is it the right file?")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | Path, max_bytes: int | None = None) -> bytes:
    """The bytes of a regular file (see :func:`open_regular`)."""
    with open_regular(path, max_bytes) as f:
        try:
            return f.read()
        except OSError as e:
            raise NudgeError(f"{path}: cannot be read ({os_reason(e)})") from None
