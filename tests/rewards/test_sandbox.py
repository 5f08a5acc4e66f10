"""The code sandbox: verdicts, limits and the hostile-program suite.

Programs that could hurt the machine (fork bomb, runaway memory, killing other processes) only run when
the namespace isolation is active (root and ``unshare`` allowed, as on CI); the fork bomb's containment is
proven first with a bounded version (``test_process_limit_bounds_forks``).
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from course_lib.rewards.sandbox import STATUSES, _Capped, _classify, _closed_parent, run_code, run_many

ISOLATED = run_code("pass").isolation.startswith("netns")
needs_isolation = pytest.mark.skipif(not ISOLATED, reason="needs root and unshare (namespace isolation)")
SANDBOX_UID_MIN = 1_000_000_000


def wait_until(predicate, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def sandbox_processes() -> list[int]:
    """Pids of live processes owned by sandbox user ids (there must be none after a run)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
            state = next(line for line in status.splitlines() if line.startswith("State:")).split()[1]
            if uid >= SANDBOX_UID_MIN and state != "Z":
                pids.append(int(entry.name))
    return pids


def test_verdicts_of_ordinary_programs():
    ok = run_code("import math, re, collections, hashlib\nprint(math.factorial(5))")
    assert (ok.status, ok.stdout, ok.error, ok.returncode) == ("passed", "120\n", "", 0)
    failed = run_code("def f(x):\n    return x + 1\nassert f(1) == 3, 'off by one'")
    assert failed.status == "failed"
    assert failed.error == "AssertionError: off by one"
    assert 'File "program.py", line 3' in failed.stderr
    syntax = run_code("def f(:\n")
    assert syntax.status == "failed" and syntax.error.startswith("SyntaxError")
    assert {ok.status, failed.status} <= set(STATUSES)


def test_invalid_limits_are_rejected():
    with pytest.raises(ValueError, match="timeout_s=0"):
        run_code("pass", timeout_s=0)
    with pytest.raises(ValueError, match="memory_mb=1"):
        run_code("pass", memory_mb=1)
    with pytest.raises(TypeError, match="str"):
        run_code(b"pass")


def test_capped_output_keeps_the_head_and_counts_the_rest():
    cap = _Capped(5)
    cap.add(b"hello world")
    assert cap.text() == "hello\n[... truncated 6 bytes]"


def test_classify_maps_exit_reports_to_statuses():
    assert _classify({"exit": "0 cpu 0.01", "passed": ""}, False, 5, 5.0)[0] == "passed"
    assert _classify({"exit": "0 cpu 0.01"}, False, 5, 5.0)[0] == "failed"
    assert _classify({"exit": "-11 cpu 0.01"}, False, 5, 5.0)[:2] == ("crashed", "killed by SIGSEGV")
    assert _classify({"exit": "-9 cpu 5.2"}, False, 5, 5.0)[0] == "timeout"
    assert _classify({}, True, 5, 5.0)[0] == "timeout"
    assert _classify({}, False, 5, 5.0)[0] == "crashed"


def test_run_many_keeps_order_and_survives_bad_neighbours():
    programs = ["print(1)", "raise SystemExit(3)", "while True: pass", "print(4)"]
    results = run_many(programs, workers=2, timeout_s=1)
    assert [r.status for r in results] == ["passed", "failed", "timeout", "passed"]
    assert results[3].stdout == "4\n"


# ------------------------------------------------------------------------------------ hostile programs


def test_infinite_loop_times_out():
    start = time.monotonic()
    result = run_code("while True:\n    pass", timeout_s=1)
    assert result.status == "timeout"
    assert time.monotonic() - start < 3


def test_sleeping_forever_times_out_by_wall_clock():
    result = run_code("import time\ntime.sleep(600)", timeout_s=0.5)
    assert result.status == "timeout" and "wall-clock" in result.error
    assert result.duration_s < 2.5


def test_ignoring_signals_does_not_help():
    program = ("import signal\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGXCPU, signal.SIGHUP):\n"
               "    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    pass")
    result = run_code(program, timeout_s=1)
    assert result.status == "timeout"
    assert result.duration_s < 3.5


@pytest.mark.parametrize("exit_call", ["import os; os._exit(0)", "import sys; sys.exit(0)", "raise SystemExit",
                                       "import os; os.close(3)", "import atexit, os; atexit.register(os._exit, 0)"])
def test_early_exit_before_the_tests_is_not_a_pass(exit_call):
    program = f"def f():\n    return 1\n{exit_call}\nassert f() == 2\n"
    result = run_code(program)
    assert result.status == "failed", (exit_call, result)


def test_printing_a_fake_marker_is_not_a_pass():
    result = run_code("import os\nprint('passed')\nos.write(3, b'\\nabc passed\\n')\nos._exit(0)")
    assert result.status == "failed"


def test_deep_recursion():
    plain = run_code("def f(n):\n    return f(n + 1)\nf(0)")
    assert plain.status == "failed" and "RecursionError" in plain.error
    through_c = ("import sys\nsys.setrecursionlimit(10**8)\nclass A:\n    def __getattr__(self, name):\n"
                 "        return getattr(self, name)\nA().x")  # each level recurses on the C stack
    unlimited = run_code(through_c, timeout_s=5, memory_mb=256)
    assert unlimited.status == "crashed" and "SIGSEGV" in unlimited.error


def test_gigantic_stdout_is_truncated_and_the_caller_keeps_reading():
    finite = run_code("import sys\nfor _ in range(2000):\n    sys.stdout.write('x' * 10000)\nprint()",
                      max_output_chars=100)
    assert finite.status == "passed"
    assert finite.stdout.startswith("x" * 100) and "truncated 19999901 bytes" in finite.stdout
    endless = run_code("while True:\n    print('y' * 10000)", timeout_s=1, max_output_chars=50)
    assert endless.status == "timeout" and len(endless.stdout) < 100


def test_environment_and_home_are_private(monkeypatch):
    monkeypatch.setenv("COURSE_SECRET_TOKEN", "hunter2")
    result = run_code("import os\nprint(sorted(os.environ))\nprint(os.path.expanduser('~') == os.getcwd())")
    assert result.status == "passed"
    assert "hunter2" not in result.stdout and "COURSE_SECRET_TOKEN" not in result.stdout
    assert result.stdout.splitlines() == ["['HOME', 'LANG', 'PATH', 'TMPDIR']", "True"]


@needs_isolation
def test_reading_the_callers_files_and_processes_fails():
    home_dir = tempfile.mkdtemp(dir=Path.home())
    secret = Path(home_dir) / "secret.txt"
    secret.write_text("hunter2")
    secret.chmod(0o600)
    try:
        program = (f"import os\nprint(sorted(e for e in os.listdir('/proc') if e.isdigit()))\n"
                   f"print(os.path.exists('/proc/{os.getpid()}/environ'))\n"
                   f"open({str(secret)!r}).read()\n")
        result = run_code(program)
    finally:
        secret.unlink()
        os.rmdir(home_dir)
    assert result.status == "failed" and ("PermissionError" in result.error or "FileNotFoundError" in result.error)
    assert result.stdout.splitlines() == ["['1']", "False"]  # it sees only itself, as PID 1


@needs_isolation
def test_writing_outside_the_work_dir_fails_or_stays_private(tmp_path):
    marker = f"course-sandbox-escape-{os.getpid()}"
    targets = [str(Path(__file__).parent / marker), f"/tmp/{marker}", f"/var/tmp/{marker}", f"/dev/shm/{marker}",
               str(tmp_path / marker)]
    program = "import os\n" + "".join(
        f"try:\n    open({t!r}, 'w').write('x')\n    print('wrote', {t!r})\nexcept OSError as e:\n"
        f"    print('refused', type(e).__name__)\n" for t in targets)
    program += "open('inside.txt', 'w').write('fine')\nprint(open('inside.txt').read())\n"
    result = run_code(program)
    assert result.status == "passed"
    assert not any(Path(t).exists() for t in targets)
    assert result.stdout.count("refused") == 4  # only its private /tmp accepted the write
    assert result.stdout.rstrip().endswith("fine")


@needs_isolation
def test_disk_fill_is_bounded():
    big = run_code("open('big.bin', 'wb').write(b'0' * (64 * 2**20))", max_file_mb=4)
    assert big.status in ("failed", "crashed") and "File too large" in big.error
    many = run_code("i = 0\nwhile True:\n    open(f'f{i}', 'wb').write(b'0' * 2**20)\n    i += 1", max_file_mb=4)
    assert many.status in ("failed", "crashed") and "No space left" in many.error


@needs_isolation
def test_memory_bomb_is_contained():
    result = run_code("blocks = []\nwhile True:\n    blocks.append(bytearray(50 * 2**20))", memory_mb=256)
    assert result.status == "crashed" and "MemoryError" in result.error


@needs_isolation
def test_network_is_unreachable():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(0.2)
        port = server.getsockname()[1]
        program = (f"import socket\nfor host in ('127.0.0.1', '1.1.1.1'):\n    try:\n"
                   f"        socket.create_connection((host, {port}), timeout=1)\n        print('connected', host)\n"
                   f"    except OSError as e:\n        print('blocked', host, e.errno)\n")
        result = run_code(program)
        with pytest.raises(socket.timeout):
            server.accept()
    assert result.status == "passed"
    assert "connected" not in result.stdout and result.stdout.count("blocked") == 2


@needs_isolation
def test_killing_the_parent_or_everyone_leaves_the_caller_alive():
    caller = os.getpid()
    attempts = ["os.kill(os.getppid(), signal.SIGKILL)", f"os.kill({caller}, signal.SIGKILL)",
                f"os.killpg({os.getpgid(0)}, signal.SIGKILL)", "os.kill(-1, signal.SIGKILL)"]
    for attempt in attempts:
        program = f"import os, signal\ntry:\n    {attempt}\nexcept OSError as e:\n    print(type(e).__name__)\n"
        result = run_code(program)
        assert result.status in STATUSES, attempt
    assert run_code("print('still here')").stdout == "still here\n"


@needs_isolation
def test_process_limit_bounds_forks():
    program = ("import os, time\nkids = 0\nfor _ in range(40):\n    try:\n        pid = os.fork()\n"
               "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(30)\n        os._exit(0)\n"
               "    kids += 1\nprint(kids)")
    result = run_code(program, max_processes=8)
    assert result.status == "passed" and result.stdout == "7\n"  # the program itself is the 8th process
    time.sleep(0.2)
    assert sandbox_processes() == []  # the sleeping children died with the PID namespace


@needs_isolation
def test_fork_bomb_and_daemons_are_contained():
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    result = run_code(bomb, timeout_s=1, max_processes=8)
    assert result.status == "timeout"
    daemon = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
              "        time.sleep(600)\n    os._exit(0)\nprint('parent done')")
    assert run_code(daemon).status == "passed"
    time.sleep(0.2)
    assert sandbox_processes() == []


def test_fallback_without_namespaces_still_limits_and_blocks_sockets():
    program = "import socket\ntry:\n    socket.socket()\nexcept PermissionError as e:\n    print(e)\n"
    result = run_code(program, namespaces=False)
    assert result.isolation in ("socket-prelude,rlimits", "uid,socket-prelude,rlimits")
    assert result.stdout == "network access is disabled in the sandbox\n"
    assert run_code("while True:\n    pass", timeout_s=1, namespaces=False).status == "timeout"


@needs_isolation
def test_a_dying_caller_leaves_no_program_behind():
    code = "from course_lib.rewards.sandbox import run_code\nrun_code('import time\\ntime.sleep(600)', timeout_s=1)"
    caller = subprocess.Popen([sys.executable, "-c", code])
    try:
        assert wait_until(lambda: sandbox_processes() != [], 60), "the sandboxed program never started"
    finally:
        caller.kill()
        caller.wait()
    assert wait_until(lambda: sandbox_processes() == [], 5)  # the server killed its programs when the caller went away


def test_runs_after_an_idle_server_are_not_killed_early(monkeypatch):
    monkeypatch.setattr("course_lib.rewards.sandbox._TERM_GRACE_S", 0.1)
    assert run_code("pass", timeout_s=0.2).status == "passed"
    time.sleep(0.5)  # longer than timeout + grace: the server sat idle in select
    assert run_code("import time\ntime.sleep(0.1)", timeout_s=0.4).status == "passed"


@pytest.mark.skipif(os.geteuid() != 0 or _closed_parent() is not None,
                    reason="needs root and a Python installation other users can read")
def test_fallback_as_root_still_drops_to_a_fresh_user():
    result = run_code("import os\nprint(os.getuid())", namespaces=False)
    assert result.isolation == "uid,socket-prelude,rlimits"
    assert int(result.stdout) >= SANDBOX_UID_MIN
