"""Run untrusted Python (a model's program plus a benchmark's tests) in a separate, limited process.

How it runs: a **fork server** (a separate interpreter started on first use, ``python -I -S -B``: no user
site, no ``PYTHON*`` variables, no site-packages, with common standard-library modules pre-imported)
forks one process per program; forking a warm interpreter costs about a millisecond where starting one
costs tens. The caller talks to it over a socket, passing the program (in a memfd) and the pipes for
stdout, stderr and a status channel, and gets back the program's pidfd, with which it enforces the
wall-clock limit by SIGKILL. The server reaps the program, reports its exit status and CPU time, kills
programs that outlive their limit (should their caller have died), and kills all of them and exits when
its caller goes away.

How one run is contained (``SandboxResult.isolation`` lists what was really applied):

* **Process.** Its own session; an environment of four variables (``PATH``, ``HOME`` and ``TMPDIR``
  pointing at the work directory, ``LANG``): no inherited secrets; no descriptor of the caller's or the
  server's besides its three pipes.
* **Limits** (``setrlimit`` before the program runs; it cannot raise them): CPU seconds
  (``RLIMIT_CPU``), address space (``RLIMIT_AS``), file size (``RLIMIT_FSIZE``), open files
  (``RLIMIT_NOFILE``), processes (``RLIMIT_NPROC``), no core dumps.
* **Namespaces** (when the server runs as root and the kernel allows ``unshare``; tag
  ``netns,pidns,mountns,uid``): a new network namespace (only a down loopback: no network at all); a new
  PID namespace where the program is PID 1, sees no outside process, and takes every process it started
  down with it when it ends or is killed; a private mount namespace with a fresh size-limited tmpfs over
  ``/tmp`` holding the work directory ``/tmp/sandbox``, read-only empty ``/var/tmp`` and ``/dev/shm``, its
  own ``/proc``; and a fresh unprivileged user id (``1_000_000_000 +`` its pid, unique among live runs),
  so it cannot write outside its tmpfs, read root-only files, signal the caller, and ``RLIMIT_NPROC``
  (ignored for root) really bounds a fork bomb. When a directory above the Python installation is closed
  to others (pyenv under ``/root``), that directory is hidden by an empty tmpfs and the installation is
  mounted back read-only, so the standard library stays importable and the home directory unreadable.
* **Fallback** (not root, or ``unshare`` refused, as in many containers; tag ``socket-prelude,rlimits``):
  limits, a temporary work directory removed afterwards, and a prelude that replaces ``socket.socket``
  (best effort: a determined program can reach ``_socket``). As root it still runs the program as a
  fresh user id when the standard library is readable by others (tag ``uid,socket-prelude,rlimits``), so
  ``RLIMIT_NPROC`` binds and the caller cannot be signalled. Without that (a normal user), ``RLIMIT_NPROC``
  counts all of the user's processes, so it still bounds fork bombs, but the program could signal the
  caller's other processes; in both cases a process that leaves the program's session survives the run.

Verdicts (``SandboxResult.status``):

* ``"passed"``: the program ran to its last statement and the harness wrote a per-run random marker
  *after* it; ``sys.exit(0)`` / ``os._exit(0)`` / a killed harness before the end are therefore not passes.
* ``"failed"``: an exception (``error`` holds its last traceback line) or an early exit.
* ``"timeout"``: wall-clock or CPU limit reached.
* ``"crashed"``: killed by a signal (segfault from runaway recursion, ``SIGKILL``), a resource limit
  (``MemoryError``, file too large, disk full), or the sandbox could not be set up.

The marker defeats early exits, not a program that inspects the harness's own memory to forge it.
Requires Linux >= 5.3 (pidfd) and Python >= 3.9.
"""

from __future__ import annotations

import functools
import inspect
import marshal
import math
import os
import secrets
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

STATUSES = ("passed", "failed", "timeout", "crashed")

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_MEMORY_MB = 512
DEFAULT_MAX_PROCESSES = 32
DEFAULT_MAX_FILE_MB = 16
DEFAULT_MAX_OUTPUT_CHARS = 10_000

_DRAIN_S = 0.5  # how long output is still read after the program exited
_TERM_GRACE_S = 1.0  # after its wall-clock limit, how long a program may live before the server kills it
_SERVER_REPLY_S = 30.0  # how long a fork request may wait for the server's answer
_STATUS_CAP = 65_536  # bytes kept from the status channel
_SERVER_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}  # programs add HOME and TMPDIR


@dataclass(frozen=True)
class SandboxResult:
    """Outcome of one sandboxed run.

    Attributes:
        status: one of :data:`STATUSES`.
        returncode: the program's exit code (negative: killed by that signal); None if it was never reported.
        stdout, stderr: captured text, cut to ``max_output_chars`` with a ``[... truncated N bytes]`` note.
        duration_s: wall-clock seconds from start to verdict.
        error: one-line summary of what went wrong (``""`` when passed).
        isolation: comma-separated list of the protections applied (see the module docstring).
        cpu_s: CPU seconds the program used (user + system), when the server could report them.
    """

    status: str
    returncode: int | None
    stdout: str
    stderr: str
    duration_s: float
    error: str
    isolation: str
    cpu_s: float | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"


# ---------------------------------------------------------------------------------------------------
# Server side: the functions below run in the fork server, a separate interpreter started once per caller
# process (their source is sent with ``-c``), so they import what they use themselves and touch nothing
# from this module's globals.
# ---------------------------------------------------------------------------------------------------


def _serve(control_fd, preload):
    """Fork server main loop: fork one program per request, reap it and report its exit; stop with the caller.

    A request is one ``SOCK_SEQPACKET`` message carrying five descriptors: a memfd holding the marshalled
    run config, the program's stdout, stderr, the status channel, and a reply socket that receives the
    program's pidfd. When the program ends, ``<nonce> exit <code> cpu <seconds>`` goes to its status channel.
    A program still running ``grace_s`` after its wall-clock limit (the caller would have killed it, unless
    the caller died) is killed here; when the caller goes away, every running program is killed.
    """
    import ctypes
    import gc
    import marshal
    import os
    import resource  # noqa: F401 - used by _confine (and os.wait4); imported once here rather than per run
    import selectors
    import shutil  # noqa: F401 - used by _finish
    import signal
    import socket
    import tempfile  # noqa: F401 - used by _spawn
    import time

    for name in preload:  # forked programs inherit these, so programs that import them start fast
        __import__(name)
    compile("pass", "<warm-up>", "exec")  # the first compile builds the AST types: once here, not per program
    libc = ctypes.CDLL(None, use_errno=True)
    for name in ("unshare", "setns", "mount", "prctl"):  # ctypes builds each foreign function on first use
        getattr(libc, name)
    try:
        own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY) if os.geteuid() == 0 else -1
    except OSError:
        own_pidns = -1
    gc.freeze()  # forks then neither scan nor copy-on-write the preloaded objects during garbage collection
    control = socket.socket(fileno=control_fd)
    sel = selectors.DefaultSelector()
    sel.register(control_fd, selectors.EVENT_READ, None)
    runs = {}  # pidfd -> (pid, status fd, nonce, kill deadline, host work dir or None)

    def kill(pidfd):
        try:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        except OSError:
            pass

    while True:
        now = time.monotonic()
        for pidfd, run in runs.items():
            if run[3] <= now:
                kill(pidfd)
        wait = min((run[3] for run in runs.values()), default=now + 3600.0) - now
        for key, _ in sel.select(timeout=max(wait, 0.01)):
            if key.data is not None:
                sel.unregister(key.fd)
                _finish(*runs.pop(key.fd))
                os.close(key.fd)
                continue
            message, fds, _, _ = socket.recv_fds(control, 64, 5)
            if not message:
                for pidfd, run in runs.items():
                    kill(pidfd)
                    _finish(*run)
                return
            if len(fds) != 5:
                for fd in fds:
                    os.close(fd)
                continue
            memfd, out_fd, err_fd, status_fd, reply_fd = fds
            cfg = {}
            try:
                cfg = marshal.loads(os.pread(memfd, os.fstat(memfd).st_size, 0))
                pid, host_dir = _spawn(cfg, out_fd, err_fd, status_fd, libc, own_pidns)
            except Exception as exc:  # noqa: BLE001 - one bad request must not stop the server
                line = f"\n{cfg.get('nonce')} crash sandbox setup failed: {type(exc).__name__}: {exc}\n"
                os.write(status_fd, line.encode())
                for fd in fds:
                    os.close(fd)
                continue
            pidfd = os.pidfd_open(pid)
            with socket.socket(fileno=reply_fd) as reply:
                socket.send_fds(reply, [b"pidfd"], [pidfd])
            for fd in (memfd, out_fd, err_fd):
                os.close(fd)
            deadline = time.monotonic() + cfg["timeout_s"] + cfg["grace_s"]
            runs[pidfd] = (pid, status_fd, cfg["nonce"], deadline, host_dir)
            sel.register(pidfd, selectors.EVENT_READ, "run")


def _spawn(cfg, out_fd, err_fd, status_fd, libc, own_pidns):
    """Fork the program's process: PID 1 of a new PID namespace when the namespaces are available.

    ``unshare(CLONE_NEWPID)`` only changes the namespace of the *next* child; ``setns`` back to our own
    namespace right after the fork keeps later children out of it. Returns ``(pid, host work dir or None)``.
    """
    import os
    import tempfile

    clone_newpid = 0x20000000
    isolate = cfg["namespaces"] and own_pidns >= 0 and libc.unshare(clone_newpid) == 0
    host_dir = None if isolate else tempfile.mkdtemp(prefix="course-sandbox-")
    try:
        pid = os.fork()
        if pid == 0:
            try:
                _program_process(cfg, (out_fd, err_fd, status_fd), libc, isolate, host_dir)
            finally:
                os._exit(70)
    finally:
        if isolate and libc.setns(own_pidns, clone_newpid) != 0:
            os._exit(1)  # later children would share this namespace: end the server (the caller restarts one)
    return pid, host_dir


def _finish(pid, status_fd, nonce, deadline, host_dir):
    """Reap an ended program: kill what is left of its session, report its exit, remove its host work dir."""
    import os
    import shutil
    import signal

    try:
        os.killpg(pid, signal.SIGKILL)  # stragglers in the limits-only fallback; pid unreaped, so the group is ours
    except OSError:
        pass
    _, status, usage = os.wait4(pid, 0)
    try:
        os.write(status_fd, f"\n{nonce} exit {os.waitstatus_to_exitcode(status)} cpu "
                            f"{usage.ru_utime + usage.ru_stime:.3f}\n".encode())
    except OSError:
        pass
    os.close(status_fd)
    if host_dir:
        shutil.rmtree(host_dir, ignore_errors=True)


def _program_process(cfg, fds, libc, isolate, host_dir):
    """In the forked child: own session and descriptors, namespaces, limits, then the program (never returns)."""
    import os

    os.setsid()
    for target, fd in enumerate(fds, start=1):
        os.dup2(fd, target)
    os.closerange(4, os.sysconf("SC_OPEN_MAX"))  # drops the control socket: programs cannot reach the server
    nonce = cfg["nonce"]

    def report(line):
        try:
            os.write(3, f"\n{nonce} {line}\n".encode())
        except OSError:
            pass

    workdir = "/tmp/sandbox" if isolate else host_dir
    os.environ.update(HOME=workdir, TMPDIR=workdir)
    closed = _closed_parent()
    uid = None  # root drops to a fresh user id, unless (without namespaces) it could not read the standard library
    if os.geteuid() == 0 and (isolate or not closed):
        uid = 1_000_000_000 + (int(os.readlink("/proc/self")) if isolate else os.getpid())  # pid seen by the host
    try:
        if isolate:
            _enter_namespaces(cfg, uid, libc, workdir, closed)
        elif uid is not None:
            os.chown(workdir, uid, uid)
        tags = "netns,pidns,mountns,uid" if isolate else ("uid," if uid is not None else "") + "socket-prelude"
        report(f"setup {tags},rlimits")
        _confine(cfg, uid, libc, workdir)
    except BaseException as exc:  # noqa: BLE001 - any setup failure must be reported, not raised
        report(f"crash sandbox setup failed: {type(exc).__name__}: {exc}")
        os._exit(70)
    _run_program(cfg["program"], report, network_prelude=not isolate)


def _closed_parent():
    """The top-most directory above the Python installation that other users cannot enter, or None."""
    import os
    import sys

    prefix = os.path.realpath(sys.base_prefix)
    parents = ["/" + "/".join(prefix.strip("/").split("/")[:i]) for i in range(1, prefix.count("/"))]
    return next((d for d in parents if not os.stat(d).st_mode & 0o001), None)


def _enter_namespaces(cfg, uid, libc, workdir, closed):
    """As PID 1 of a new PID namespace: unshare network and mount namespaces, build the private file system."""
    import ctypes
    import os
    import sys

    clone_newns, clone_newnet = 0x00020000, 0x40000000
    ms_rdonly, ms_nosuid, ms_nodev, ms_noexec, ms_remount, ms_bind, ms_move, ms_rec, ms_private = (
        1, 2, 4, 8, 32, 4096, 8192, 16384, 1 << 18)
    if libc.unshare(clone_newns | clone_newnet) != 0:
        raise OSError(ctypes.get_errno(), f"unshare: {os.strerror(ctypes.get_errno())}")

    def mount(source, target, fstype, flags, data=None):
        if libc.mount(source.encode(), target.encode(), fstype and fstype.encode(), flags,
                      data and data.encode()) != 0:
            raise OSError(ctypes.get_errno(), f"mount {fstype or 'bind'} on {target}: {os.strerror(ctypes.get_errno())}")

    mount("none", "/", None, ms_rec | ms_private)
    mount("tmpfs", "/tmp", "tmpfs", ms_nosuid | ms_nodev, f"size={cfg['max_file_mb']}m,mode=1777")
    for path in ("/var/tmp", "/dev/shm"):
        if os.path.isdir(path) and not os.path.islink(path):
            mount("tmpfs", path, "tmpfs", ms_nosuid | ms_nodev | ms_rdonly, "size=4k,mode=755")
    mount("proc", "/proc", "proc", ms_nosuid | ms_nodev | ms_noexec)
    # The program's user must read the Python installation. When a directory above it is closed to others
    # (pyenv under /root), an empty tmpfs hides that directory and the installation is mounted back, read-only.
    if closed:
        prefix = os.path.realpath(sys.base_prefix)
        staging = "/tmp/.python"
        os.mkdir(staging, 0o755)
        mount(prefix, staging, None, ms_bind | ms_rec)
        mount("tmpfs", closed, "tmpfs", ms_nosuid | ms_nodev, "size=64k,mode=755")
        os.makedirs(prefix)
        mount(staging, prefix, None, ms_move)
        mount("none", prefix, None, ms_remount | ms_bind | ms_rdonly | ms_nosuid)
    os.mkdir(workdir, 0o700)
    os.chown(workdir, uid, uid)


def _confine(cfg, uid, libc, workdir):
    """Resource limits, work directory, then (namespace mode) the run's own unprivileged user id."""
    import os
    import resource

    cpu = cfg["cpu_s"]
    limits = {
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_CPU: (cpu, cpu + 1),
        resource.RLIMIT_AS: cfg["memory_mb"] * 2**20,
        resource.RLIMIT_FSIZE: cfg["max_file_mb"] * 2**20,
        resource.RLIMIT_NOFILE: 64,
        resource.RLIMIT_NPROC: cfg["max_processes"],
    }
    for kind, value in limits.items():
        soft, hard = value if isinstance(value, tuple) else (value, value)
        resource.setrlimit(kind, (soft, hard))
    os.chdir(workdir)
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        libc.prctl(1, 9)  # PR_SET_PDEATHSIG = SIGKILL: die with the fork server


def _run_program(source, report, network_prelude):
    """Execute the program as ``__main__``; report ``passed`` only after its last statement ran."""
    import errno
    import linecache
    import os
    import sys
    import traceback

    if network_prelude:
        import socket

        class _NoNetwork(socket.socket):
            def __init__(self, *args, **kwargs):
                raise PermissionError("network access is disabled in the sandbox")

        socket.socket = _NoNetwork
        socket.create_connection = _NoNetwork
    sys.argv = ["program.py"]
    linecache.cache["program.py"] = (len(source), None, source.splitlines(True), "program.py")
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    code, verdict = 0, "passed"
    try:
        exec(compile(source, "program.py", "exec"), namespace)  # noqa: S102
    except SystemExit as exc:
        code, verdict = 1, f"error program exited early (SystemExit {exc.code!r}) before its last statement"
    except BaseException as exc:  # noqa: BLE001 - the program's own failure, reported as a verdict
        namespace.clear()  # frees what the program allocated (a MemoryError leaves little room to report)
        limit_hit = isinstance(exc, MemoryError) or (
            isinstance(exc, OSError) and exc.errno in (errno.EFBIG, errno.ENOSPC, errno.EDQUOT))
        code, verdict = 1, ("crash resource limit: " if limit_hit else "error ") + type(exc).__name__
        try:
            traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)  # without this harness frame
            summary = traceback.format_exception_only(type(exc), exc)[-1].strip()[-300:]
            verdict = verdict.rsplit(" ", 1)[0] + " " + summary if limit_hit else "error " + summary
        except BaseException:  # noqa: BLE001, S110 - keep the short verdict when even formatting fails
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001, S110 - the program may have closed or replaced its streams
            pass
    report(" ".join(verdict.split()) if verdict != "passed" else "passed")
    os._exit(code)


_SERVER_FUNCTIONS = (_serve, _spawn, _finish, _program_process, _closed_parent, _enter_namespaces, _confine,
                     _run_program)
PRELOAD = ("typing", "re", "math", "collections", "itertools", "functools", "heapq", "string", "bisect",
           "hashlib", "operator", "traceback")
"""Standard-library modules the fork server imports once, so programs importing them start fast."""


@functools.cache
def _server_source() -> str:
    """The fork server's ``-c`` source: the functions above, then the call (control fd in ``argv[1]``)."""
    parts = "\n\n".join(inspect.getsource(f) for f in _SERVER_FUNCTIONS)
    return f"{parts}\n\nimport sys\n_serve(int(sys.argv[1]), {PRELOAD!r})\n"


# ---------------------------------------------------------------------------------------------------
# Caller side
# ---------------------------------------------------------------------------------------------------


class _ForkServer:
    """The caller's handle on its fork server (see the module docstring): started on first use, restarted
    if it died, safe to share between threads (each request carries its own reply socket)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._control: socket.socket | None = None
        self._proc: subprocess.Popen | None = None

    def _start(self) -> None:
        if not (hasattr(os, "pidfd_open") and hasattr(socket, "send_fds")):
            raise RuntimeError(
                "the code sandbox needs Linux >= 5.3 and Python >= 3.9 (pidfd_open, SCM_RIGHTS); "
                f"this is {sys.platform} with Python {sys.version.split()[0]}: run code checks on Linux or Colab"
            )
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-B", "-c", _server_source(), str(theirs.fileno())],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),), env=_SERVER_ENV, start_new_session=True,
            )
        self._control = ours

    def submit(self, fds: Sequence[int]) -> int | None:
        """Ask the server to start one run (``fds``: config memfd, stdout, stderr, status write ends).

        Returns the program's pidfd (the caller closes it), or None when the server could not start the run
        (it then wrote why to the status channel). Raises RuntimeError when the server does not answer.
        """
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with ours, theirs:
            with self._lock:
                for attempt in (1, 2):
                    if self._control is None or self._proc.poll() is not None:
                        self._start()
                    try:
                        socket.send_fds(self._control, [b"run"], [*fds, theirs.fileno()])
                        break
                    except OSError:
                        self._control.close()
                        self._control = None
                        if attempt == 2:
                            raise
            theirs.close()
            ours.settimeout(_SERVER_REPLY_S)
            try:
                message, pidfds, _, _ = socket.recv_fds(ours, 16, 1)
            except OSError:
                message, pidfds = None, []
        if message is None:
            self.close()
            raise RuntimeError(
                f"the sandbox fork server did not answer within {_SERVER_REPLY_S:g} s; it was stopped and the "
                "next run starts a fresh one"
            )
        return pidfds[0] if pidfds else None

    def close(self) -> None:
        """Stop the server: it exits when its control socket closes (as when this process exits)."""
        with self._lock:
            if self._control is not None:
                self._control.close()
            if self._proc is not None:
                try:
                    self._proc.wait(timeout=_TERM_GRACE_S)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            self._control = self._proc = None


_SERVER = _ForkServer()


class _Capped:
    """Keeps the first ``cap`` characters of a byte stream (reading ~4 bytes per char) and counts the rest."""

    def __init__(self, cap: int):
        self.cap_bytes, self.cap_chars = 4 * cap, cap
        self.data, self.dropped = bytearray(), 0

    def add(self, chunk: bytes) -> None:
        room = self.cap_bytes - len(self.data)
        self.data += chunk[:room]
        self.dropped += max(0, len(chunk) - room)

    def text(self) -> str:
        text = self.data.decode("utf-8", errors="replace")
        dropped = self.dropped + len(text[self.cap_chars:].encode("utf-8", errors="replace"))
        text = text[: self.cap_chars]
        return text + (f"\n[... truncated {dropped} bytes]" if dropped else "")


def _collect(pidfd: int | None, fds: dict[str, int], deadline: float, caps: dict[str, _Capped]) -> bool:
    """Read every pipe until all close, or until ``_DRAIN_S`` after the program exited. True on timeout.

    The status pipe closes once the server has reported the exit; ``_DRAIN_S`` only matters when a
    straggler of the limits-only fallback still holds stdout or stderr.
    """
    with selectors.DefaultSelector() as sel:
        for name, fd in fds.items():
            sel.register(fd, selectors.EVENT_READ, name)
        if pidfd is not None:
            sel.register(pidfd, selectors.EVENT_READ, None)
        drain_until = math.inf
        while any(key.data is not None for key in sel.get_map().values()):
            now = time.monotonic()
            if now > drain_until:
                return False
            if now >= deadline:
                return True
            for key, _ in sel.select(timeout=min(deadline, drain_until) - now):
                if key.data is None:  # the program exited
                    sel.unregister(key.fd)
                    drain_until = time.monotonic() + _DRAIN_S
                    continue
                chunk = os.read(key.fd, 65_536)
                if chunk:
                    caps[key.data].add(chunk)
                else:
                    sel.unregister(key.fd)
    return False


def _kill(pidfd: int) -> None:
    """SIGKILL the program (as PID 1 of its namespace, that ends every process it started)."""
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _status_lines(raw: bytes, nonce: str) -> dict[str, str]:
    """The last status line of each kind (``setup``, ``exit``, ``passed``, ``error``, ``crash``)."""
    found: dict[str, str] = {}
    for line in raw.decode("utf-8", errors="replace").splitlines():
        head, _, rest = line.partition(" ")
        if head == nonce and rest:
            kind, _, detail = rest.partition(" ")
            found[kind] = detail
    return found


def _classify(lines: dict[str, str], timed_out: bool, cpu_limit: int,
              timeout_s: float) -> tuple[str, str, int | None, float | None]:
    """(status, error, returncode, cpu_s) from the status lines and whether the wall clock ran out."""
    returncode = cpu_s = None
    if "exit" in lines:
        code_text, _, cpu_text = lines["exit"].partition(" cpu ")
        try:
            returncode, cpu_s = int(code_text), float(cpu_text)
        except ValueError:
            pass
    if timed_out:
        return "timeout", f"wall-clock limit of {timeout_s:g} s reached", returncode, cpu_s
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL) and cpu_s is not None and cpu_s >= cpu_limit - 0.05:
        return "timeout", f"CPU limit of {cpu_limit} s reached", returncode, cpu_s
    if returncode == 0 and "passed" in lines:
        return "passed", "", returncode, cpu_s
    if "crash" in lines:
        return "crashed", lines["crash"], returncode, cpu_s
    if returncode is None:
        return "crashed", "the sandbox server did not report the program's exit", returncode, cpu_s
    if returncode < 0:
        return "crashed", f"killed by {signal.Signals(-returncode).name}", returncode, cpu_s
    if "error" in lines:
        return "failed", lines["error"], returncode, cpu_s
    return "failed", f"exited with code {returncode} before its last statement", returncode, cpu_s


def _check_limits(timeout_s: float, memory_mb: int, max_processes: int, max_file_mb: int,
                  max_output_chars: int) -> None:
    checks = {
        "timeout_s": (timeout_s, timeout_s > 0),
        "memory_mb": (memory_mb, memory_mb >= 64),
        "max_processes": (max_processes, max_processes >= 1),
        "max_file_mb": (max_file_mb, max_file_mb >= 1),
        "max_output_chars": (max_output_chars, max_output_chars >= 0),
    }
    bad = [f"{name}={value!r}" for name, (value, ok) in checks.items() if not ok]
    if bad:
        raise ValueError(
            f"sandbox limits out of range: {', '.join(bad)} "
            "(need timeout_s > 0, memory_mb >= 64, max_processes >= 1, max_file_mb >= 1, max_output_chars >= 0)"
        )


def run_code(
    program: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    memory_mb: int = DEFAULT_MEMORY_MB,
    max_processes: int = DEFAULT_MAX_PROCESSES,
    max_file_mb: int = DEFAULT_MAX_FILE_MB,
    max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
    namespaces: bool = True,
) -> SandboxResult:
    """Run ``program`` (Python source) in a fresh sandboxed process and return its verdict.

    Args:
        program: Python source, executed as ``__main__``; put the tests at the end, they must raise on failure.
        timeout_s: wall-clock seconds; the CPU limit is ``ceil(timeout_s)`` seconds.
        memory_mb: address-space limit (MiB) of the program's process.
        max_processes: process/thread limit (see the module docstring for when it binds).
        max_file_mb: largest file the program may write (MiB); also the size of its tmpfs (namespace mode).
        max_output_chars: characters of stdout and of stderr kept (the rest is read and dropped).
        namespaces: try the namespace isolation (root only); False forces the limits-only fallback.

    Never raises because of what ``program`` does. Raises ValueError for out-of-range limits, TypeError
    when ``program`` is not a str, RuntimeError when the fork server cannot start (not Linux) or answer.
    """
    _check_limits(timeout_s, memory_mb, max_processes, max_file_mb, max_output_chars)
    if not isinstance(program, str):
        raise TypeError(f"program must be Python source as str; got {type(program).__name__}")
    start = time.monotonic()
    nonce = secrets.token_hex(16)
    cpu_limit = max(1, math.ceil(timeout_s))
    config = {
        "program": program, "nonce": nonce, "timeout_s": timeout_s, "grace_s": _TERM_GRACE_S, "cpu_s": cpu_limit,
        "memory_mb": memory_mb, "max_processes": max_processes, "max_file_mb": max_file_mb, "namespaces": namespaces,
    }
    caps = {"stdout": _Capped(max_output_chars), "stderr": _Capped(max_output_chars), "status": _Capped(_STATUS_CAP)}
    owned = [os.memfd_create("course-sandbox-config", os.MFD_CLOEXEC)]  # descriptors this call must close
    try:
        with open(owned[0], "wb", closefd=False) as f:
            marshal.dump(config, f)
        pipes = []
        for _ in caps:
            pipes.append(os.pipe())
            owned += pipes[-1]
        pidfd = _SERVER.submit([owned[0], *(w for _, w in pipes)])
        for fd in [owned[0], *(w for _, w in pipes)]:  # closed once, then forgotten: threads reuse numbers
            owned.remove(fd)
            os.close(fd)
        if pidfd is not None:
            owned.append(pidfd)
        timed_out = _collect(pidfd, dict(zip(caps, (r for r, _ in pipes))), start + timeout_s, caps)
        if pidfd is not None:
            _kill(pidfd)
    finally:
        for fd in owned:
            os.close(fd)
    lines = _status_lines(bytes(caps["status"].data), nonce)
    status, error, returncode, cpu_s = _classify(lines, timed_out, cpu_limit, timeout_s)
    return SandboxResult(
        status=status,
        returncode=returncode,
        stdout=caps["stdout"].text(),
        stderr=caps["stderr"].text(),
        duration_s=time.monotonic() - start,
        error=error,
        isolation=lines.get("setup", "unknown (the program's process failed before reporting)"),
        cpu_s=cpu_s,
    )


def run_many(programs: Sequence[str] | Iterable[str], *, workers: int = 2, **limits) -> list[SandboxResult]:
    """Run several programs with ``workers`` sandboxes at a time; results keep the order of ``programs``.

    ``limits`` are :func:`run_code`'s keyword arguments, applied to every run. Threads only wait on
    child processes, so ``workers`` is the number of programs executing at once.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1; got {workers!r}")
    programs = list(programs)
    if workers == 1 or len(programs) <= 1:
        return [run_code(p, **limits) for p in programs]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda p: run_code(p, **limits), programs))
