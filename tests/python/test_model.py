"""moee.Model without embeddings: loading, info, tokenize (= `moee tokenize`), closing,
errors as moee.Error with the library's message, and arguments checked in Python."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import moee
from moee import _lib
from conftest import ROOT, TEXTS, run_moee


def test_info(olmoe, olmoe_path):
    info = olmoe.info
    assert info["arch"] == "olmoe" and info["path"] == olmoe_path
    assert info["hs_dim"] == info["hidden"] == 64
    assert info["rw_dim"] == info["n_moe_layers"] * info["n_experts"]
    assert info["dims"] == {"hs": 64, "rw": info["rw_dim"], "moee": 64 + info["rw_dim"],
                            "moee-sum": 64 + info["rw_dim"]}
    assert info["has_tokenizer"] is True
    assert info["file_bytes"] == os.path.getsize(olmoe_path)
    rc, out, _ = run_moee("info", olmoe_path)
    assert rc == 0 and ("layers         %d" % info["n_layers"]).encode() in out
    info["dims"]["hs"] = 0                      # a copy: the model's stays
    assert olmoe.info["dims"]["hs"] == 64


@pytest.mark.parametrize("options", [
    dict(prompt="prompteol"), dict(prompt="none"), dict(prompt="raw"), dict(prompt="sentiment"),
    dict(prompt="none", template='This text : "*sent 0*" means'),
    dict(prompt="prompteol", instruction="Retrieve similar sentences"),
])
@pytest.mark.parametrize("which", ["olmoe", "deepseek"])
def test_tokenize_equals_cli(request, which, options, tmp_path):
    model = request.getfixturevalue(which)
    path = request.getfixturevalue(which + "_path")
    args = ["--prompt", options["prompt"]]
    if "template" in options:
        args = ["--template", options["template"]]
    if "instruction" in options:
        args += ["--instruction", options["instruction"]]
    texts = [t for t in TEXTS if t]
    rc, out, err = run_moee("tokenize", "-m", path, *args, stdin="".join(t + "\n" for t in texts).encode())
    assert rc == 0, err
    expected = [[int(x) for x in line.split()] for line in out.decode().splitlines()]
    assert [model.tokenize(t, **options) for t in texts] == expected


def test_tokenize_bytes_and_errors(olmoe):
    assert olmoe.tokenize(b"A cat.", prompt="raw") == olmoe.tokenize("A cat.", prompt="raw")
    with pytest.raises(moee.Error, match="UTF-8"):
        olmoe.tokenize(b"bad \xff byte", prompt="raw")
    with pytest.raises(moee.Error, match="not valid Unicode"):
        olmoe.tokenize("lone \ud800 surrogate")
    with pytest.raises(TypeError):
        olmoe.tokenize(["a list"])


def test_model_without_tokenizer(ids_model_path):
    with moee.Model(ids_model_path) as m:
        assert m.info["has_tokenizer"] is False
        with pytest.raises(moee.Error, match="tokenizer"):
            m.tokenize("text")


def test_load_errors(tmp_path):
    with pytest.raises(moee.Error, match="^%s: " % str(tmp_path / "missing.gguf")):
        moee.Model(tmp_path / "missing.gguf")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF but not really a gguf file")
    with pytest.raises(moee.Error) as e:
        moee.Model(str(bad))
    assert str(bad) in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(TypeError):
        moee.Model(42)
    with pytest.raises(moee.Error, match="empty"):
        moee.Model("")
    for threads in (0, -1, 1.5, "2", True):
        with pytest.raises(moee.Error, match="threads"):
            moee.Model(bad, threads=threads)


def test_close_and_with(olmoe_path):
    with moee.Model(olmoe_path, threads=1) as m:
        assert m.tokenize("x", prompt="raw")
    with pytest.raises(moee.Error, match="closed"):
        m.tokenize("x")
    with pytest.raises(moee.Error, match="closed"):
        m.encode(["a", "b"])
    m.close()                                    # twice is fine
    assert "closed" in repr(m)
    m = moee.Model(olmoe_path)
    del m                                        # freed by the collector


def test_not_picklable(olmoe):
    import pickle
    with pytest.raises(TypeError, match="load the model in the worker"):
        pickle.dumps(olmoe)


def test_after_fork(olmoe):
    """A model loaded before a fork refuses to run in the child."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            olmoe.tokenize("x")
            os.write(w, b"no error")
        except moee.Error as e:
            os.write(w, str(e).encode())
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    message = os.read(r, 1000).decode()
    os.close(r)
    assert "before a fork" in message and "load the model in the worker" in message


BAD_ENCODE_ARGS = [
    (dict(kind="bogus"), moee.Error, "kind"),
    (dict(kind=["hs", "nope"]), moee.Error, "kind"),
    (dict(kind=[]), moee.Error, "kind"),
    (dict(prompt="nope"), moee.Error, "prompt"),
    (dict(prompt=None), TypeError, "prompt"),
    (dict(template="no placeholder"), moee.Error, "sent 0"),
    (dict(template=3), TypeError, "template"),
    (dict(prompt="raw", instruction="x"), moee.Error, "raw"),
    (dict(instruction="bad \udc80"), moee.Error, "Unicode"),
    (dict(pool="max"), moee.Error, "pool"),
    (dict(rw_source="both"), moee.Error, "rw_source"),
    (dict(alpha=-1), moee.Error, "alpha"),
    (dict(alpha=float("nan")), moee.Error, "alpha"),
    (dict(alpha="1"), moee.Error, "alpha"),
    (dict(batch_tokens=0), moee.Error, "batch_tokens"),
    (dict(batch_tokens=2.5), moee.Error, "batch_tokens"),
    (dict(standardize="maybe"), moee.Error, "standardize"),
    (dict(stats=3), TypeError, "stats"),
    (dict(truncate="yes"), TypeError, "truncate"),
]


@pytest.fixture
def no_c_calls(monkeypatch):
    """Any call of a fallible library function fails the test."""
    def refuse(function, *args):
        raise AssertionError("%s was called" % function.__name__)
    monkeypatch.setattr(_lib, "call", refuse)


@pytest.mark.parametrize("kwargs,exc,match", BAD_ENCODE_ARGS)
def test_bad_arguments_never_reach_c(olmoe, no_c_calls, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        olmoe.encode(["one text", "another"], **kwargs)


@pytest.mark.parametrize("ids,exc,match", [
    ([[1, 2], []], moee.Error, "sequence 1 is empty"),
    ([[1, -2]], moee.Error, "id -2 is outside"),
    ([1, 2, 70000], moee.Error, "id 70000 is outside the vocabulary"),
    ([[1.5, 2]], TypeError, "ints"),
    ([["a"]], TypeError, "ints"),
    ("1 2 3", TypeError, "ids"),
    (5, TypeError, "ids"),
    ([[[1, 2]]], TypeError, "flat"),
])
def test_bad_ids_never_reach_c(ids_model_path, no_c_calls, ids, exc, match):
    m = moee.Model.__new__(moee.Model)           # only the vocabulary size is needed
    m._info = {"vocab_size": 50304}
    with pytest.raises(exc, match=match):
        m._ids_arg(ids, "encode_ids")


@pytest.mark.parametrize("texts,exc", [
    ([1, 2], TypeError), (None, TypeError), (["ok", None], TypeError),
    (["bad \udc80"], moee.Error), (np.array([["a"]]), TypeError),
])
def test_bad_texts_never_reach_c(olmoe, no_c_calls, texts, exc):
    with pytest.raises(exc):
        olmoe.encode(texts)


def test_library_search_order(monkeypatch):
    here = os.path.join(ROOT, "tools", "python", "moee")
    monkeypatch.delenv("MOEE_LIBRARY", raising=False)
    assert _lib.candidates() == [os.path.join(here, "libmoee.so"),
                                 os.path.join(ROOT, "build", "libmoee.so"),
                                 os.path.join(ROOT, "libmoee.so")]
    monkeypatch.setenv("MOEE_LIBRARY", "/x/libmoee.so")
    assert _lib.candidates()[0] == "/x/libmoee.so"


def python(code, **env):
    """Runs code in a fresh /usr/bin/python3 with the package on its path."""
    e = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "tools", "python"), **env)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=e)
    return p.returncode, p.stdout + p.stderr


def test_library_from_environment(olmoe_path):
    rc, out = python("import moee; moee.Model('x')", MOEE_LIBRARY="/nonexistent/libmoee.so")
    assert rc != 0 and "moee.Error: cannot load /nonexistent/libmoee.so" in out
    lib = os.environ.get("MOEE_LIBRARY") or os.path.join(ROOT, "tools", "python", "moee", "libmoee.so")
    rc, out = python("import moee, moee._lib as l; m = moee.Model(%r); print(l.lib().path)" % olmoe_path,
                     MOEE_LIBRARY=lib)
    assert rc == 0 and out.strip() == lib, out


def test_import_without_library():
    """import moee needs no library; using it without one says how to get it."""
    rc, out = python("import moee, moee._lib as l; l.candidates = lambda: ['/nowhere/libmoee.so']; "
                     "import os; os.environ.pop('MOEE_LIBRARY', None); moee.Model('x')")
    assert rc != 0 and "libmoee.so not found (looked for /nowhere/libmoee.so); run `make`" in out


def test_threads_share_a_model(olmoe):
    """Many Python threads tokenizing at once with one model."""
    expected = [olmoe.tokenize(t) for t in TEXTS if t]
    results, errors = {}, []

    def work(i):
        try:
            results[i] = [olmoe.tokenize(t) for t in TEXTS if t]
        except Exception as e:      # pragma: no cover
            errors.append(e)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and all(r == expected for r in results.values()) and len(results) == 8
