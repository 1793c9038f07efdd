"""Test support: a stand-in ``analysis.recovery`` for checkouts that do not have it yet.

``analysis.params`` checks family names against ``analysis.recovery.FAMILIES``. The
report-rendering tests use purpose-built notebooks that fit nothing, so they only need
those names. The finder is appended to ``sys.meta_path`` and is asked only after the
normal finders failed: once the real module exists, this file does nothing.

The batch tests put this folder on ``PYTHONPATH`` so that the render subprocesses (and
their kernels) get the same behaviour; the test modules load it with ``runpy``.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from types import MappingProxyType

NAME = "analysis.recovery"
FAMILY_NAMES = ("exponential", "weibull", "lognormal", "loglogistic", "gamma", "mixture")


class _StubLoader(importlib.abc.Loader):
    def create_module(self, spec):  # default module creation
        return None

    def exec_module(self, module):
        module.FAMILIES = MappingProxyType(dict.fromkeys(FAMILY_NAMES, object))
        module.__doc__ = "Stand-in for tests: family names only."


class _StubFinder(importlib.abc.MetaPathFinder):
    stub_for_tests = True

    def find_spec(self, fullname, path, target=None):
        if fullname != NAME:
            return None
        return importlib.util.spec_from_loader(fullname, _StubLoader())


if not any(getattr(f, "stub_for_tests", False) for f in sys.meta_path):
    sys.meta_path.append(_StubFinder())
