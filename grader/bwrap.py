"""The sandbox's namespaces, mounts and privilege drop, as command-line arguments.

``grader.sandbox`` explains how these fit together; this module only builds
the argument lists for bwrap (bubblewrap) and setpriv.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path

SANDBOX_DIR = "/sandbox"
WORK_DIR = "/tmp"
PRIVATE_PACKAGES = ("server", "grader", "reference")
"""Packages of this project that must stay hidden if installed into site-packages."""


SANDBOX_UID_BASE = 61000
"""Worker slot ``n`` runs student code as uid ``SANDBOX_UID_BASE + n``, which no account uses."""


def sandbox_arguments(files: Sequence[Path], disk_bytes: int, info_fd: int | None = None) -> list[str]:
    """Return ``bwrap ... --``: the namespaces and mounts of a sandbox.

    ``files`` are bound read-only at ``/sandbox/<name>``; the working directory
    is a fresh tmpfs of ``disk_bytes`` at ``/tmp``. ``info_fd`` is passed to
    bwrap's ``--info-fd``, where bwrap writes the pid of the sandbox's init.
    """
    arguments = [
        "bwrap",
        "--die-with-parent",
        "--new-session",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        "sandbox",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
    ]
    for top in ("/bin", "/lib", "/lib32", "/lib64", "/sbin"):
        if os.path.islink(top):
            arguments += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            arguments += ["--ro-bind", top, top]
    arguments += ["--ro-bind", "/usr", "/usr", "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]

    # The working directory comes before the Python binds, so that an installation under
    # /tmp (a checkout in a temporary directory, say) is bound on top of it, not hidden by it.
    arguments += ["--size", str(disk_bytes), "--perms", "01777", "--tmpfs", WORK_DIR]
    created: set[str] = {"/", "/usr", WORK_DIR, "/proc", "/dev"}
    for path in python_paths():
        arguments += _parent_directories(path, created)
        arguments += ["--ro-bind", path, path]
        created.add(path)
    for hidden in private_package_paths():
        arguments += ["--tmpfs", hidden]

    arguments += ["--perms", "0755", "--dir", SANDBOX_DIR]
    for file in files:
        arguments += ["--ro-bind", str(file), f"{SANDBOX_DIR}/{file.name}"]
    # Without these, a user-namespace sandbox owns its root and /dev, both tmpfs without a size cap.
    # They must follow every mount above, which they would make fail.
    arguments += ["--remount-ro", "/", "--remount-ro", "/dev"]
    arguments += ["--chdir", WORK_DIR]
    if info_fd is not None:
        arguments += ["--info-fd", str(info_fd)]
    if os.geteuid() != 0:
        arguments += ["--unshare-user", "--uid", "65534", "--gid", "65534"]
    else:
        # Only setpriv may keep these, and it drops them with the bounding set.
        arguments += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
    return arguments + ["--"]


def privilege_drop(slot: int) -> list[str]:
    """Return the ``setpriv ... --`` prefix that drops root to the slot's uid, or nothing when not root."""
    if os.geteuid() != 0:
        return []
    uid = SANDBOX_UID_BASE + slot
    return [
        "setpriv",
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ]


def python_paths() -> list[str]:
    """Return the directories the interpreter and its packages live in, outermost first."""
    paths = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        paths.add(os.path.realpath(sysconfig.get_path(key)))
    paths.add(os.path.dirname(os.path.realpath(sys.executable)))
    if sys.prefix != sys.base_prefix:
        paths.add(sys.prefix)  # The venv's own path, which pyvenv.cfg is found by.
    ordered = sorted(paths, key=lambda p: (p.count("/"), p))
    kept: list[str] = []
    for path in ordered:
        if not path.startswith("/usr/") and not any(path.startswith(k + "/") for k in kept):
            kept.append(path)
    return kept


def _parent_directories(path: str, created: set[str]) -> list[str]:
    """Create the parents of a bind target with mode 0755 (bwrap would use 0700)."""
    arguments = []
    parent = os.path.dirname(path)
    missing = []
    while parent not in created and parent != "/":
        missing.append(parent)
        parent = os.path.dirname(parent)
    for directory in reversed(missing):
        arguments += ["--perms", "0755", "--dir", directory]
        created.add(directory)
    return arguments


def private_package_paths() -> list[str]:
    paths = []
    for key in ("purelib", "platlib"):
        site = Path(sysconfig.get_path(key))
        for name in PRIVATE_PACKAGES:
            if (site / name).is_dir():
                paths.append(str(site / name))
    return sorted(set(paths))
