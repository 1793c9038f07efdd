"""The project's Jupyter kernel, "Python (postmortem)": ipykernel in this environment.

``python -m analysis.kernel install`` registers it (``make setup`` does, inside ``.venv``;
``--user`` makes it visible to a JupyterLab outside the environment too). Both notebooks
name it in their metadata, so JupyterLab and a direct ``papermill`` run pick it.

The kernel is plain ipykernel, started through :func:`main`, which drops one line:
ipykernel's notice that a kernel manager chose TCP without CurveZMQ keys (papermill's
default). Such a kernel listens on the loopback interface only and every message is
signed with the connection file's key; the notice would otherwise open every direct
papermill run and scheduler log. The ``postmortem`` command does not need this: it talks to
its kernels over Unix sockets (see :mod:`analysis.report`).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

NAME = "postmortem"
DISPLAY_NAME = "Python (postmortem)"
_TCP_NOTICE = "Kernel is running over TCP without encryption"


class _DropTcpNotice(logging.Filter):
    """Drop ipykernel's plain-TCP notice; keep every other record."""

    def filter(self, record: logging.LogRecord) -> bool:
        return _TCP_NOTICE not in record.getMessage()


def spec(python: str | None = None) -> dict[str, object]:
    """The ``kernel.json`` of the project kernel for the interpreter ``python`` (default: this one)."""
    return {
        "argv": [python or sys.executable, "-Xfrozen_modules=off", "-m", "analysis.kernel", "-f", "{connection_file}"],
        "display_name": DISPLAY_NAME,
        "language": "python",
        "metadata": {"debugger": True},
        "kernel_protocol_version": "5.5",
    }


def install(*, user: bool = False, prefix: str | None = None) -> Path:
    """Register the kernel (in ``sys.prefix`` by default, or for the user); return its folder."""
    from jupyter_client.kernelspec import KernelSpecManager

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / NAME
        folder.mkdir()
        (folder / "kernel.json").write_text(json.dumps(spec(), indent=1) + "\n", encoding="utf-8")
        target = KernelSpecManager().install_kernel_spec(
            str(folder), NAME, user=user, prefix=None if user else (prefix or sys.prefix)
        )
    return Path(target)


def main(argv: list[str] | None = None) -> None:
    """``install [--user]`` registers the kernel; any other arguments start it (as Jupyter does)."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["install"]:
        parser = argparse.ArgumentParser(prog="python -m analysis.kernel install", description=install.__doc__)
        parser.add_argument("--user", action="store_true", help="register for this user (visible outside the environment)")
        opts = parser.parse_args(args[1:])
        print(f"installed kernel '{NAME}' in {install(user=opts.user)}")
        return
    logging.getLogger("IPKernelApp").addFilter(_DropTcpNotice())
    from ipykernel.kernelapp import launch_new_instance

    launch_new_instance(argv=args)


if __name__ == "__main__":
    main()
