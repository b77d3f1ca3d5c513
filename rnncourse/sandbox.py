"""Run untrusted Python in a bubblewrap sandbox with resource limits.

The sandboxed process sees a read-only copy of the system's programs and
libraries, of this Python and its virtual environment, and of the ``rnncourse``
package, plus one writable work folder. It has no network (its own empty
loopback), its own PID namespace (it cannot see or signal other processes, and
everything it started dies with it), and runs as an unprivileged user ``uid``
with limits on CPU time, address space, processes, file size and open files.
It cannot see the course directory: not the gradebook, not ``source/``, not other
students' submissions.
"""
import contextlib
import fcntl
import os
import resource
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


class SandboxUnavailable(RuntimeError):
    """Raised when the sandbox cannot be used on this machine."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed run."""

    wall_seconds: float = 120.0  # the whole run, enforced from outside
    cell_seconds: int = 30  # one of the student's cells (enforced inside, by an alarm)
    probe_seconds: float = 10.0  # one call of a student's function (enforced inside, by a timer)
    cpu_seconds: int = 120  # RLIMIT_CPU
    memory_bytes: int = 3 * 1024**3  # RLIMIT_AS (address space)
    processes: int = 64  # RLIMIT_NPROC, per sandbox user id
    file_bytes: int = 32 * 1024**2  # RLIMIT_FSIZE: largest file the code may write
    open_files: int = 256  # RLIMIT_NOFILE


BASE_UID = 61000  # sandboxes run as user ids BASE_UID, BASE_UID + 1, ...: one per concurrent run
UID_COUNT = 1000


def sandbox_available():
    """``None`` when sandboxed runs work here, otherwise the reason they do not (a string)."""
    if sys.platform != "linux":
        return "the sandbox needs Linux (bubblewrap)"
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed: install the Debian/Ubuntu package `bubblewrap` (apt-get install bubblewrap)"
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed"
    if os.geteuid() != 0:
        return "sandboxed grading must run as root, so that each submission runs under its own unprivileged user id"
    return None


def _read_only_paths():
    """Folders the sandboxed Python needs to read."""
    import rnncourse

    paths = ["/usr", "/etc"] + [p for p in _SYSTEM_LINKS if not os.path.islink(p)]
    paths += [sys.prefix, sys.base_prefix, sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    paths.append(str(Path(rnncourse.__file__).resolve().parent))
    real = []
    for path in paths:
        path = str(Path(path).resolve()) if os.path.exists(path) else None
        if path and path not in real and not any(path.startswith(p + "/") for p in real if p != "/"):
            real.append(path)
    return real


_SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib64", "/lib32")  # symbolic links into /usr on merged-/usr systems


def bwrap_command(workdir, command, uid):
    """The bubblewrap command line that runs ``command`` (a list) in the sandbox.

    workdir: folder bound writable at the same path; uid: the unprivileged user id to run as.
    """
    argv = ["bwrap", "--die-with-parent", "--new-session",
            "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
            "--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]
    made = {"/", "/tmp", "/proc", "/dev"}
    for link in _SYSTEM_LINKS:
        if os.path.islink(link):
            argv += ["--symlink", os.readlink(link), link]
    for path in _read_only_paths() + [str(workdir)]:
        # bwrap creates missing parent folders with mode 0700; make them traversable first.
        for parent in list(reversed(Path(path).parents))[1:]:
            if str(parent) not in made:
                argv += ["--perms", "0755", "--dir", str(parent)]
                made.add(str(parent))
        made.add(path)
        argv += (["--bind", path, path] if path == str(workdir) else ["--ro-bind", path, path])
    argv += ["--chdir", str(workdir),
             "--setenv", "HOME", str(workdir), "--setenv", "IPYTHONDIR", "/tmp/ipython",
             "--setenv", "MPLCONFIGDIR", "/tmp/matplotlib", "--setenv", "MPLBACKEND", "Agg",
             "--setenv", "OPENBLAS_NUM_THREADS", "1", "--setenv", "OMP_NUM_THREADS", "1",
             "--setenv", "MKL_NUM_THREADS", "1", "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
             "--unsetenv", "JPY_PARENT_PID",
             "--", "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
             "--bounding-set=-all", "--no-new-privs", "--"]
    return argv + list(command)


def _set_limits(limits):
    def apply():
        os.setsid()
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


@dataclass
class RunResult:
    """How a sandboxed run ended."""

    returncode: int
    timed_out: bool
    seconds: float
    output_tail: str  # the last characters the process printed


@contextlib.contextmanager
def claim_uid():
    """A sandbox user id that no other sandbox on this machine uses meanwhile (a file lock per id).

    Each concurrent sandbox runs under its own id, so the process limit of one (a fork
    bomb) never blocks another.
    """
    lock_dir = Path(tempfile.gettempdir(), "rnncourse-sandbox-uids")
    lock_dir.mkdir(mode=0o700, exist_ok=True)
    for uid in range(BASE_UID, BASE_UID + UID_COUNT):
        handle = open(lock_dir / f"{uid}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        try:
            yield uid
        finally:
            handle.close()
        return
    raise SandboxUnavailable(f"all {UID_COUNT} sandbox user ids are in use")


def run_python(workdir, args, limits=Limits(), sandboxed=True):
    """Run ``python args...`` (this interpreter) in ``workdir``, sandboxed unless told otherwise.

    The process and everything it starts are killed after ``limits.wall_seconds``.
    Its standard output and error go to ``workdir/output.log`` (at most
    ``limits.file_bytes``). Returns a :class:`RunResult`.
    """
    if not sandboxed:
        return _run(Path(workdir), [sys.executable, *args], limits, os.setsid)
    reason = sandbox_available()
    if reason:
        raise SandboxUnavailable(reason)
    workdir = Path(workdir)
    with claim_uid() as uid:
        for path in [workdir, *workdir.iterdir()]:
            os.chown(path, uid, uid)
        return _run(workdir, bwrap_command(workdir, [sys.executable, *args], uid), limits, _set_limits(limits))


def _run(workdir, command, limits, preexec):
    log_path = workdir / "output.log"
    started = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   cwd=workdir, preexec_fn=preexec)
        try:
            returncode, timed_out = process.wait(timeout=limits.wall_seconds), False
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            returncode, timed_out = process.wait(), True
    with open(log_path, "rb") as log:
        log.seek(max(0, log_path.stat().st_size - 4000))
        tail = log.read().decode("utf8", "replace")
    return RunResult(returncode, timed_out, time.monotonic() - started, tail)
