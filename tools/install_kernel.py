"""Register the course's Jupyter kernel inside the virtual environment (run by `make env`).

The kernel logs at ERROR level: ipykernel 7 otherwise warns on every start that loopback TCP
is unencrypted, which buries a learner's real output in alarming noise.
"""

from __future__ import annotations

import sys
import tempfile

from ipykernel.kernelspec import write_kernel_spec
from jupyter_client.kernelspec import KernelSpecManager

KERNEL_NAME = "mlops-course"
DISPLAY_NAME = "MLOps course (Python 3.11)"


def install() -> str:
    """Write the kernel spec and install it under ``sys.prefix``; return where it went."""
    with tempfile.TemporaryDirectory() as staging:
        spec_dir = write_kernel_spec(
            f"{staging}/{KERNEL_NAME}",
            overrides={"display_name": DISPLAY_NAME},
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
            python_arguments=["-Xfrozen_modules=off"],  # as `ipykernel install` does, for the debugger
        )
        return KernelSpecManager().install_kernel_spec(spec_dir, KERNEL_NAME, prefix=sys.prefix)


if __name__ == "__main__":
    print(f"installed kernel {KERNEL_NAME!r} in {install()}")
