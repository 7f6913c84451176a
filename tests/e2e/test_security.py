# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""Security, end to end on this host: another local user (nobody) against a
tcpaccept run as root.

- -o: what nobody plants where the file goes (a symbolic link, a file of
  its own, a FIFO, a hard link to a root-only file), at start and at the
  SIGHUP reopen after logrotate's rename, once tracing has dropped its
  capabilities: refused each time in one line, nothing written through it.
- -o in a directory that only CAP_DAC_OVERRIDE lets root write: refused at
  start, where it would otherwise fail at the first rotation.

The kernel's own protections (fs.protected_symlinks, _regular, _hardlinks,
_fifos) are turned off for each test and restored after it, so tcpaccept's
own checks are all that stands in the way, as on a host that has them off.
The attacker's steps run as uid 65534 (setpriv).
"""
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile

import pytest

from tests.lib import TCPACCEPT
from tests.lib.checks import check_rows, header, parse_rows
from tests.lib.host import STARTED, Tracer, die_with_pytest, free_port, peer

NOBODY_UID = 65534
NOBODY = ("setpriv", f"--reuid={NOBODY_UID}", f"--regid={NOBODY_UID}", "--clear-groups")
PROTECTIONS = ("symlinks", "regular", "hardlinks", "fifos")


def as_nobody(*cmd):
    subprocess.run([*NOBODY, *map(str, cmd)], check=True, timeout=30)


@pytest.fixture
def unprotected():
    """fs.protected_* at 0 for the test, then as they were."""
    saved = {}
    try:
        for name in PROTECTIONS:
            path = f"/proc/sys/fs/protected_{name}"
            with open(path) as f:
                saved[path] = f.read()
            with open(path, "w") as f:
                f.write("0")
        yield
    finally:
        for path, value in saved.items():
            with open(path, "w") as f:
                f.write(value)


def tmp_dir(mode, uid=0):
    """A directory in /tmp (which nobody can reach, unlike pytest's 0700
    tmp_path), with @mode and owner @uid."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="tcpaccept-sec-", dir="/tmp"))
    os.chown(d, uid, uid)
    os.chmod(d, mode)
    return d


@pytest.fixture
def sticky(unprotected):
    """A directory like /tmp: root's, mode 1777."""
    d = tmp_dir(0o1777)
    yield d
    shutil.rmtree(d)


@pytest.fixture
def victim():
    """A root-only file (mode 0600 in a root directory nobody can search),
    what the attacker wants tcpaccept to write to."""
    d = tmp_dir(0o755)
    path = d / "victim"
    path.write_text("secret\n")
    os.chmod(path, 0o600)
    yield path
    shutil.rmtree(d)


# What nobody plants, and why tcpaccept refuses it.
PLANTS = {
    "symlink": "it is a symbolic link (-o never follows one)",
    "own-file": f"it belongs to uid {NOBODY_UID}, in a sticky directory others can write to "
                "(what fs.protected_regular refuses)",
    "fifo": "it is not a regular file",
    "hardlink": "it has 2 hard links: another name could be any file",
}


def plant(kind, path, victim):
    if kind == "symlink":
        as_nobody("ln", "-s", victim, path)
    elif kind == "own-file":
        # Mode 0666: what a root tracer appended would sit among forged rows.
        as_nobody("sh", "-c", f"umask 0 && printf 'forged row\\n' > {path}")
    elif kind == "fifo":
        as_nobody("mkfifo", "-m", "666", path)
    else:
        as_nobody("ln", victim, path)


@pytest.mark.parametrize("kind", PLANTS)
def test_output_refuses_what_another_user_planted(kind, sticky, victim):
    path = sticky / "x"
    plant(kind, path, victim)
    reader = None
    if kind == "fifo":
        # A reader waiting on the FIFO: open() for writing then succeeds.
        reader = subprocess.Popen([*NOBODY, "cat", str(path)], stdout=subprocess.PIPE,
                                  preexec_fn=die_with_pytest)
        STARTED.append(reader)
    res = subprocess.run([TCPACCEPT, "-o", str(path), "-d", "1"], capture_output=True,
                         timeout=30)
    err = res.stderr.decode()
    assert res.returncode == 1 and res.stdout == b"", (res.returncode, err)
    assert err == f"tcpaccept: refused -o '{path}': {PLANTS[kind]}\n", err
    assert victim.read_text() == "secret\n"
    if kind == "own-file":
        assert path.read_text() == "forged row\n"
    if reader:
        reader.kill()
        out, _ = reader.communicate(timeout=30)
        assert out == b"", out


def test_fifo_without_reader_fails_at_once(sticky):
    """open() of a FIFO nobody reads would block for ever: it fails at once."""
    path = sticky / "x"
    as_nobody("mkfifo", "-m", "666", path)
    res = subprocess.run([TCPACCEPT, "-o", str(path), "-d", "1"], capture_output=True,
                         timeout=30)
    assert res.returncode == 1, res
    assert res.stderr.decode() == f"tcpaccept: refused -o '{path}': it is not a regular file\n"


@pytest.mark.parametrize("kind", PLANTS)
def test_output_reopen_refuses_what_another_user_planted(kind, sticky, victim):
    """logrotate renames the file; before tcpaccept reopens it on SIGHUP
    (without capabilities by then), nobody plants something at its name. It
    is refused in one line, and the rows go on into the file open so far."""
    path, rotated = sticky / "y", sticky / "y.1"
    port = free_port()
    t = Tracer("-v", "-P", str(port), "-o", str(path), ready_on_stderr=True)
    first, acc1 = peer("--port", str(port), "--count", "2")
    t.wait_for(lambda o, e: path.read_text().count("\n") >= 3, 10, "rows not in the file")
    os.rename(path, rotated)
    plant(kind, path, victim)
    t.proc.send_signal(signal.SIGHUP)
    refused = f"tcpaccept: refused -o '{path}': {PLANTS[kind]}\n"
    t.wait_for(lambda o, e: refused in e, 10, "no refusal after SIGHUP")
    second, acc2 = peer("--port", str(port), "--count", "3")
    t.wait_for(lambda o, e: rotated.read_text().count("\n") >= 6, 10, "rows not in the file")
    out, err, rc = t.stop()
    assert rc == 0 and out == "", (out, err)
    assert err.count("tcpaccept: refused") == 1, err
    assert victim.read_text() == "secret\n"
    assert os.stat(victim).st_nlink == (2 if kind == "hardlink" else 1)
    if kind == "own-file":
        assert path.read_text() == "forged row\n"
    rows = parse_rows(rotated.read_text())
    check_rows([r for r in rows if r["pid"] == first["pid"]], acc1, first["pid"])
    check_rows([r for r in rows if r["pid"] == second["pid"]], acc2, second["pid"])


# --- a path whose SIGHUP reopen could not work ------------------------------------

def test_output_directory_only_cap_dac_override_can_write_refused_at_start(unprotected):
    """A log directory owned by another user (mode 0755): root writes there
    only with CAP_DAC_OVERRIDE, which tracing drops, so the reopen after a
    rotation would fail while rows went on into the rotated file. Refused at
    start, before anything is created or loaded."""
    d = tmp_dir(0o755, uid=NOBODY_UID)
    try:
        path = d / "accepts.log"
        res = subprocess.run([TCPACCEPT, "-o", str(path), "-d", "1"], capture_output=True,
                             timeout=30)
        err = res.stderr.decode()
        assert res.returncode == 1 and res.stdout == b"", (res.returncode, err)
        assert err == (f"tcpaccept: refused -o '{path}': once tracing, without capabilities, "
                       "uid 0 could not create the file in its directory on SIGHUP (log "
                       "rotation): Permission denied\n"), err
        assert os.listdir(d) == []
    finally:
        shutil.rmtree(d)


def test_output_file_only_cap_dac_override_can_write_refused_at_start(unprotected):
    """The same for the file: another user's 0644 file in root's directory."""
    d = tmp_dir(0o755)
    try:
        path = d / "accepts.log"
        path.write_text("")
        os.chown(path, NOBODY_UID, NOBODY_UID)
        res = subprocess.run([TCPACCEPT, "-o", str(path), "-d", "1"], capture_output=True,
                             timeout=30)
        err = res.stderr.decode()
        assert res.returncode == 1, err
        assert err == (f"tcpaccept: refused -o '{path}': once tracing, without capabilities, "
                       "uid 0 could not write the file on SIGHUP (log rotation): Permission "
                       "denied\n"), err
        assert path.read_text() == ""
    finally:
        shutil.rmtree(d)


def test_output_in_roots_directory_is_reopened_after_the_drop():
    """The case that works: root's own directory; the reopen after a rename
    creates the file again without capabilities, headed as the first."""
    d = tmp_dir(0o755)
    try:
        path = d / "accepts.log"
        port = free_port()
        t = Tracer("-v", "-P", str(port), "-o", str(path), ready_on_stderr=True)
        os.rename(path, d / "accepts.log.1")
        t.proc.send_signal(signal.SIGHUP)
        t.wait_for(lambda o, e: path.exists(), 10, "not reopened")
        ready, accepts = peer("--port", str(port), "--count", "2")
        t.wait_for(lambda o, e: path.read_text().count("\n") >= 3, 10, "rows not in the file")
        out, err, rc = t.stop()
        assert rc == 0 and "refused -o" not in err and "failed to open" not in err, err
        assert path.read_text().startswith(header() + "\n")
        check_rows(parse_rows(path.read_text()), accepts, ready["pid"])
        assert os.stat(path).st_uid == 0 and os.stat(path).st_mode & 0o777 == 0o644
    finally:
        shutil.rmtree(d)
