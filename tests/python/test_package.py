"""The C declarations in moee/_lib.py match engine/moee.h (sizes and offsets, checked
by a compiled C program), and `pip install ./tools/python` carries libmoee.so."""
import ctypes
import os
import shutil
import subprocess
import sys

import pytest

from moee import _lib
from conftest import ROOT


def test_structures_match_the_header(tmp_path):
    lines = ['#include <stddef.h>', '#include <stdio.h>', '#include "moee.h"', 'int main(void) {']
    expected = []
    for cname, cls in _lib.STRUCTS.items():
        lines.append('printf("%s %%zu\\n", sizeof(%s));' % (cname, cname))
        expected.append("%s %d" % (cname, ctypes.sizeof(cls)))
        for field, _ in cls._fields_:
            lines.append('printf("%s.%s %%zu\\n", offsetof(%s, %s));' % (cname, field, cname, field))
            expected.append("%s.%s %d" % (cname, field, getattr(cls, field).offset))
    lines.append("return 0; }")
    src, exe = tmp_path / "abi.c", tmp_path / "abi"
    src.write_text("\n".join(lines) + "\n")
    cc = os.environ.get("CC", "cc")
    p = subprocess.run([cc, "-std=c11", "-I", os.path.join(ROOT, "engine"), str(src), "-o", str(exe)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    got = subprocess.run([str(exe)], capture_output=True, text=True).stdout.split("\n")
    assert got[:-1] == expected


def test_enums_match_the_library():
    lib = _lib.lib()
    for name, value in _lib.KINDS.items():
        assert lib.moee_kind_dim(value, 10, 1000) == {"hs": 10, "rw": 1000}.get(name, 1010)
    assert lib.template_names[:2] == ("none", "prompteol")


def test_pip_install_carries_the_library(tmp_path, olmoe_path):
    if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode:
        pytest.skip("no pip for %s" % sys.executable)
    src = tmp_path / "src"          # build a copy: setuptools writes build/ into the source
    shutil.copytree(os.path.join(ROOT, "tools", "python"), src,
                    ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    if os.environ.get("MOEE_LIBRARY"):          # the library of the build under test
        shutil.copy(os.environ["MOEE_LIBRARY"], src / "moee" / "libmoee.so")
    site = tmp_path / "site"
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                        "--no-index", "--target", str(site), str(src)],
                       capture_output=True, text=True)
    if p.returncode != 0 and "setuptools" in p.stdout + p.stderr:
        pytest.skip("pip cannot build here: " + (p.stdout + p.stderr).strip().splitlines()[-1])
    assert p.returncode == 0, p.stdout + p.stderr
    assert (site / "moee" / "libmoee.so").exists()
    env = {k: v for k, v in os.environ.items() if k not in ("MOEE_LIBRARY", "PYTHONPATH")}
    env["PYTHONPATH"] = str(site)
    code = ("import moee, moee._lib as l; m = moee.Model(%r); print(l.lib().path); "
            "print(m.encode(['a', 'b']).shape)" % olmoe_path)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert p.stdout.split("\n")[:2] == [str(site / "moee" / "libmoee.so"), "(2, 96)"]
