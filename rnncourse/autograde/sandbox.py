"""Run the grader's runner on untrusted code in a bubblewrap sandbox with resource limits.

The sandboxed process sees a read-only copy of the system's programs and libraries and
of this Python and its virtual environment (with the ``rnncourse`` package masked out),
the runner's own folder (:mod:`rnncourse.autograde.sandboxed`, no reference code) and a
read-only folder of inputs. It can write only to two size-capped tmpfs mounts, its work
folder ``/work`` and ``/tmp`` (``Limits.folder_bytes``, ``Limits.tmp_bytes``):
in memory, never on the host's disk. Its results leave through a pipe that the trusted
side reads (at most ``EVENTS_LIMIT`` bytes), its printed output through another
(the last characters kept). It has no network (its own empty loopback), its own PID
namespace (it cannot see or signal other processes, and everything it started dies with
it), and runs as an unprivileged user ``uid`` with limits on CPU time, address space,
processes, file size and open files. It cannot see the course directory: not the
gradebook, not ``source/``, not other students' submissions, not the package's sources.
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
import threading
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
    folder_bytes: int = 64 * 1024**2  # size of the writable work folder /work (a tmpfs, in memory)
    tmp_bytes: int = 64 * 1024**2  # size of /tmp (a tmpfs, in memory)


BASE_UID = 61000  # sandboxes run as user ids BASE_UID, BASE_UID + 1, ...: one per concurrent run
UID_COUNT = 1000
EVENTS_LIMIT = 16 * 1024**2  # bytes of results read back from one run at most; the rest is discarded
OUTPUT_TAIL = 4000  # characters of the run's printed output kept
RUNNER_FOLDER = Path(__file__).resolve().parent / "sandboxed"  # all of the grader the sandbox holds
INSIDE_RUNNER, INSIDE_INPUTS, INSIDE_WORK = "/grader/sandboxed", "/grader/inputs", "/work"


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


_SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib64", "/lib32")  # symbolic links into /usr on merged-/usr systems


def _read_only_paths():
    """Folders the sandboxed Python needs to read (the system, this Python, its packages)."""
    paths = ["/usr", "/etc"] + [p for p in _SYSTEM_LINKS if not os.path.islink(p)]
    paths += [sys.prefix, sys.base_prefix, sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    real = []
    for path in paths:
        path = str(Path(path).resolve()) if os.path.exists(path) else None
        if path and path not in real and not any(path.startswith(p + "/") for p in real if p != "/"):
            real.append(path)
    return real


def package_paths(bound):
    """Every copy of the ``rnncourse`` package inside the folders ``bound``: the imported one and
    one installed in a site-packages folder. Each is hidden under an empty mount in the sandbox."""
    import rnncourse

    candidates = {Path(rnncourse.__file__).resolve().parent}
    for key in ("purelib", "platlib"):
        candidates.add(Path(sysconfig.get_paths()[key]).resolve() / "rnncourse")
    return sorted(str(path) for path in candidates
                  if path.exists() and any(str(path).startswith(folder.rstrip("/") + "/") for folder in bound))


def bwrap_command(inputs, command, uid, limits=Limits()):
    """The bubblewrap command line that runs ``command`` (a list) in the sandbox.

    inputs: host folder of the runner's inputs, mounted read-only at ``/grader/inputs``;
    uid: the unprivileged user id to run as; limits: sizes of the tmpfs mounts.
    """
    argv = ["bwrap", "--die-with-parent", "--new-session",
            "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
            "--proc", "/proc", "--dev", "/dev",
            "--size", str(limits.tmp_bytes), "--perms", "1777", "--tmpfs", "/tmp",
            "--size", str(limits.folder_bytes), "--perms", "0777", "--tmpfs", INSIDE_WORK]
    made = {"/", "/tmp", "/proc", "/dev", INSIDE_WORK}
    for link in _SYSTEM_LINKS:
        if os.path.islink(link):
            argv += ["--symlink", os.readlink(link), link]
    bound = _read_only_paths()
    mounts = [(path, path) for path in bound] + [(str(RUNNER_FOLDER), INSIDE_RUNNER), (str(inputs), INSIDE_INPUTS)]
    for source, target in mounts:
        # bwrap creates missing parent folders with mode 0700; make them traversable first.
        for parent in list(reversed(Path(target).parents))[1:]:
            if str(parent) not in made:
                argv += ["--perms", "0755", "--dir", str(parent)]
                made.add(str(parent))
        made.add(target)
        argv += ["--ro-bind", source, target]
    for package in package_paths(bound):  # no reference code inside: an empty, read-only folder instead
        argv += ["--size", "4096", "--perms", "0555", "--tmpfs", package]
    argv += ["--chdir", INSIDE_WORK,
             "--setenv", "HOME", INSIDE_WORK, "--setenv", "PYTHONPATH", str(Path(INSIDE_RUNNER).parent),
             "--setenv", "IPYTHONDIR", "/tmp/ipython",
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
    """How a sandboxed run ended, and what it sent back."""

    returncode: int
    timed_out: bool
    seconds: float
    output_tail: str  # the last characters the process printed
    events: bytes = b""  # the runner's result stream (at most EVENTS_LIMIT bytes)


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


def run_runner(inputs, limits=Limits(), sandboxed=True):
    """Run the runner (:mod:`rnncourse.autograde.sandboxed.runner`) on the folder ``inputs``.

    Sandboxed unless told otherwise (``sandboxed=False`` is for trusted code only: it runs
    with this user's rights in a temporary folder). The process and everything it starts
    are killed after ``limits.wall_seconds``. Returns a :class:`RunResult`.
    """
    inputs = Path(inputs)
    if not sandboxed:
        with tempfile.TemporaryDirectory(prefix="rnncourse-unsandboxed-") as folder:
            env = dict(os.environ, PYTHONPATH=str(RUNNER_FOLDER.parent))
            return _run(lambda fd: [sys.executable, "-m", "sandboxed.runner", str(inputs), str(fd)],
                        limits, os.setsid, folder, env)
    reason = sandbox_available()
    if reason:
        raise SandboxUnavailable(reason)
    for path in [inputs, *inputs.iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    with claim_uid() as uid:
        return _run(lambda fd: bwrap_command(
            inputs, [sys.executable, "-m", "sandboxed.runner", INSIDE_INPUTS, str(fd)], uid, limits),
            limits, _set_limits(limits), None, None)


def _read_bounded(stream, limit, keep_tail, kept):
    """Read ``stream`` to its end into the bytearray ``kept``: its first ``limit`` bytes, or
    with ``keep_tail`` its last; the rest is read and dropped, so the writer never blocks."""
    while True:
        chunk = stream.read1(65536)
        if not chunk:
            return
        if keep_tail:
            kept += chunk
            del kept[:-limit]
        elif len(kept) < limit:
            kept += chunk[: limit - len(kept)]


def _run(make_command, limits, preexec, cwd, env):
    """Start ``make_command(events fd)``; read its result stream and output; wait at most wall_seconds."""
    events_read, events_write = os.pipe()
    started = time.monotonic()
    try:
        process = subprocess.Popen(make_command(events_write), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, pass_fds=(events_write,), cwd=cwd, env=env,
                                   preexec_fn=preexec)
    finally:
        os.close(events_write)
    events, output = bytearray(), bytearray()
    with open(events_read, "rb") as events_stream:
        readers = [threading.Thread(target=_read_bounded, args=(events_stream, EVENTS_LIMIT, False, events), daemon=True),
                   threading.Thread(target=_read_bounded, args=(process.stdout, OUTPUT_TAIL, True, output), daemon=True)]
        for reader in readers:
            reader.start()
        try:
            returncode, timed_out = process.wait(timeout=limits.wall_seconds), False
        except subprocess.TimeoutExpired:
            returncode, timed_out = None, True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # and whatever it left running
        if timed_out:
            returncode = process.wait()
        for reader in readers:
            reader.join(timeout=5)
    process.stdout.close()
    return RunResult(returncode, timed_out, time.monotonic() - started, bytes(output).decode("utf8", "replace"),
                     bytes(events))
