"""encode / encode_ids / Stats against `moee embed`: bit for bit for every kind and
option, with statistics over the input and from --stats-in files both ways; threads;
errors."""
import os
import threading
import time
import warnings

import numpy as np
import pytest

import moee
from conftest import TEXTS, cli_embed, run_moee


def same(a, b):
    """Bit-identical float32 arrays of the same shape."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype == np.float32 and a.shape == b.shape and a.tobytes() == b.tobytes()


KINDS = ["hs", "rw", "moee", "moee-sum"]


@pytest.mark.parametrize("which", ["olmoe", "deepseek"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_equals_cli(request, which, kind, texts_file):
    model, path = request.getfixturevalue(which), request.getfixturevalue(which + "_path")
    got = model.encode(TEXTS, kind=kind, prompt="prompteol")
    assert got.shape == (len(TEXTS), model.info["dims"][kind])
    assert same(got, cli_embed(path, texts_file, "--kind", kind, "--prompt", "prompteol"))


@pytest.mark.parametrize("options,args", [
    (dict(prompt="none"), ["--prompt", "none"]),
    (dict(prompt="raw"), ["--prompt", "raw"]),
    (dict(prompt="sentiment", pool="mean"), ["--prompt", "sentiment", "--pool", "mean"]),
    (dict(template='This text : "*sent 0*" means'), ["--template", 'This text : "*sent 0*" means']),
    (dict(instruction="Find similar sentences"), ["--prompt", "prompteol", "--instruction", "Find similar sentences"]),
    (dict(alpha=0.25), ["--prompt", "prompteol", "--alpha", "0.25"]),
    (dict(rw_source="probs"), ["--prompt", "prompteol", "--rw-source", "probs"]),
    (dict(standardize="off"), ["--prompt", "prompteol", "--standardize", "off"]),
    (dict(kind="hs", standardize="on"), ["--prompt", "prompteol", "--kind", "hs", "--standardize", "on"]),
    (dict(batch_tokens=7), ["--prompt", "prompteol", "--batch-tokens", "7"]),
])
def test_options_equal_cli(olmoe, olmoe_path, tmp_path, options, args):
    if "kind" not in options:
        args = args + ["--kind", "moee-sum"]
    texts = [t for t in TEXTS if t] if options.get("prompt") == "raw" else TEXTS  # raw "": no tokens
    path = tmp_path / "texts.txt"
    path.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    assert same(olmoe.encode(texts, **options), cli_embed(olmoe_path, str(path), *args))


def test_several_kinds_in_one_pass(olmoe):
    got = olmoe.encode(TEXTS, kind=["moee-sum", "hs", "rw"])
    assert list(got) == ["moee-sum", "hs", "rw"]
    for kind, a in got.items():
        assert same(a, olmoe.encode(TEXTS, kind=kind))


def test_stats_in_equals_cli(olmoe, olmoe_path, texts_file, tmp_path):
    """Statistics saved by the CLI, used from Python for fewer texts and for one."""
    stats_path = str(tmp_path / "stats.json")
    corpus = cli_embed(olmoe_path, texts_file, "--prompt", "prompteol", "--stats-out", stats_path)
    assert same(olmoe.encode(TEXTS, stats=stats_path), corpus)
    queries = tmp_path / "queries.txt"
    queries.write_text(TEXTS[2] + "\n" + TEXTS[0] + "\n", encoding="utf-8")
    expected = cli_embed(olmoe_path, str(queries), "--prompt", "prompteol", "--stats-in", stats_path)
    for stats in (stats_path, moee.Stats.load(stats_path)):
        assert same(olmoe.encode([TEXTS[2], TEXTS[0]], stats=stats), expected)
        assert same(olmoe.encode(TEXTS[2], stats=stats), expected[0])
    with moee.Model(olmoe_path, stats=stats_path) as m:
        assert same(m.encode(TEXTS[0]), expected[1])
        assert same(m.encode([TEXTS[2], TEXTS[0]]), expected)
        assert same(m.encode(TEXTS, stats=None), corpus)   # the model's statistics = the corpus's


def test_stats_compute_equals_cli(olmoe, olmoe_path, texts_file, tmp_path):
    """Stats.compute = --stats-out; a saved Stats works as --stats-in."""
    cli_path = str(tmp_path / "cli.json")
    cli_embed(olmoe_path, texts_file, "--prompt", "prompteol", "--stats-out", cli_path)
    stats = moee.Stats.compute(olmoe, TEXTS, prompt="prompteol")
    cli = moee.Stats.load(cli_path)
    for name in ("hs_mean", "hs_std", "rw_mean", "rw_std"):
        assert getattr(stats, name).tobytes() == getattr(cli, name).tobytes(), name
    assert stats.count == len(TEXTS) and stats.provenance == cli.provenance
    assert stats.provenance["prompt"] == "prompteol" and stats.provenance["arch"] == "olmoe"
    py_path = str(tmp_path / "py.json")
    stats.save(py_path)
    assert same(cli_embed(olmoe_path, texts_file, "--prompt", "prompteol", "--stats-in", py_path),
                olmoe.encode(TEXTS))
    assert "count=%d" % len(TEXTS) in repr(stats)


def test_ids_equal_cli(ids_model_path, tmp_path):
    seqs = [[1, 2, 3], [4, 5, 6, 7], [100], [9] * 30]
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("".join(" ".join(map(str, s)) + "\n" for s in seqs))
    with moee.Model(ids_model_path) as m:
        for kind in KINDS:
            assert same(m.encode_ids(seqs, kind=kind),
                        cli_embed(ids_model_path, str(ids_file), "--kind", kind, ids=True))
        assert same(m.encode_ids(np.array(seqs[1]), kind="hs", pool="mean"),
                    cli_embed(ids_model_path, str(ids_file), "--kind", "hs", "--pool", "mean", ids=True)[1])
        stats = moee.Stats.compute_ids(m, seqs)
        assert stats.provenance["prompt"] == "ids"
        assert same(m.encode_ids(seqs[:1], stats=stats), m.encode_ids(seqs)[:1])


def test_ids_of_tokenize_equal_texts(olmoe):
    ids = [olmoe.tokenize(t, prompt="style") for t in TEXTS]
    assert same(olmoe.encode_ids(ids, kind="hs"), olmoe.encode(TEXTS, kind="hs", prompt="style"))


def test_shapes_and_normalize(olmoe):
    dim = olmoe.info["dims"]["moee-sum"]
    assert olmoe.encode([]).shape == (0, dim)
    assert olmoe.encode("just one", kind="hs").shape == (64,)
    assert olmoe.encode(("a", "b")).shape == (2, dim)
    assert olmoe.encode(np.array(["a", "b"])).shape == (2, dim)
    assert same(olmoe.encode(["a", b"b"]), olmoe.encode(["a", "b"]))
    u = olmoe.encode(TEXTS, kind="moee", normalize_embeddings=True)
    assert np.allclose(np.linalg.norm(u, axis=1), 1, atol=1e-6)
    raw = olmoe.encode(TEXTS, kind="moee")
    assert np.allclose(u, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-7)


def test_threads_give_the_same_vectors(olmoe_path):
    with moee.Model(olmoe_path, threads=1) as one, moee.Model(olmoe_path) as every:
        assert same(one.encode(TEXTS), every.encode(TEXTS))


def test_one_model_many_python_threads(olmoe):
    """Threads sharing one model get exactly what they get alone."""
    stats = moee.Stats.compute(olmoe, TEXTS)
    jobs = [(TEXTS[i:i + 3], kind) for i in range(0, 6) for kind in ("hs", "moee-sum")]
    expected = [olmoe.encode(t, kind=k, stats=stats) for t, k in jobs]
    got, errors = [None] * len(jobs), []

    def work(i):
        try:
            got[i] = olmoe.encode(jobs[i][0], kind=jobs[i][1], stats=stats)
        except Exception as e:      # pragma: no cover
            errors.append(e)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and all(same(g, e) for g, e in zip(got, expected))


def test_gil_released_while_computing(olmoe):
    texts = ["a somewhat longer sentence number %d to keep the engine busy for a while" % i
             for i in range(400)]
    worker = threading.Thread(target=olmoe.encode, args=(texts,))
    ticks = 0
    start = time.monotonic()
    worker.start()
    while worker.is_alive():
        ticks += 1
        time.sleep(0.001)
    elapsed = time.monotonic() - start
    if elapsed > 0.2:               # with the GIL held the loop could not have ticked
        assert ticks > 10, (ticks, elapsed)


def test_close_waits_for_running_calls(olmoe_path):
    m = moee.Model(olmoe_path)
    result = []
    m._compute.acquire()                 # the worker enters and then waits for the engine
    worker = threading.Thread(target=lambda: result.append(m.encode(TEXTS)))
    worker.start()
    while m._users == 0:
        time.sleep(0.001)
    closer = threading.Thread(target=m.close)
    closer.start()
    time.sleep(0.05)
    assert closer.is_alive()             # close waits for the call in progress
    m._compute.release()
    worker.join()
    closer.join()
    assert len(result) == 1 and result[0].shape == (len(TEXTS), 96)
    with pytest.raises(moee.Error, match="closed"):
        m.encode(TEXTS)


def test_progress_bar(olmoe, capfd):
    olmoe.encode(TEXTS, show_progress_bar=True)
    err = capfd.readouterr().err
    assert "%d/%d texts" % (len(TEXTS), len(TEXTS)) in err


def test_library_errors(olmoe, deepseek_path, tmp_path):
    with pytest.raises(moee.Error, match="stats=") as e:
        olmoe.encode("one query")
    assert "moee.Stats.compute" in str(e.value) and "standardize='off'" in str(e.value)
    assert olmoe.encode("one query", kind="hs").shape == (64,)
    assert olmoe.encode(["one query"], standardize="off").shape == (1, 96)
    with pytest.raises(moee.Error, match="^text 1: .*UTF-8"):
        olmoe.encode(["fine", b"bad \xff byte"])
    assert olmoe.encode(["fine", "fine\x00with NUL"], kind="hs").shape == (2, 64)
    with pytest.raises(moee.Error, match="^text 1: the prompt has no tokens"):
        olmoe.encode(["fine", ""], kind="hs", prompt="raw")
    # statistics of another model, or of other options
    with moee.Model(deepseek_path) as ds:
        other = moee.Stats.compute(ds, TEXTS)
    with pytest.raises(moee.Error) as e:
        olmoe.encode(TEXTS, stats=other)
    assert "\n" not in str(e.value)
    none_stats = moee.Stats.compute(olmoe, TEXTS, prompt="none")
    with pytest.raises(moee.Error, match="none"):
        olmoe.encode(TEXTS, stats=none_stats, prompt="prompteol")
    assert olmoe.encode(TEXTS, stats=none_stats, prompt="none").shape == (len(TEXTS), 96)
    with pytest.raises(moee.Error, match="at least 2"):
        moee.Stats.compute(olmoe, ["one"])
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(moee.Error, match=str(bad)):
        olmoe.encode(TEXTS, stats=str(bad))
    with pytest.raises(moee.Error, match=str(tmp_path / "missing.json")):
        moee.Stats.load(tmp_path / "missing.json")


def test_truncation(olmoe, tmp_path):
    long_text = "word " * 5000
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        v = olmoe.encode([long_text, "short"], kind="hs")
    assert v.shape == (2, 64) and any("truncated" in str(w.message) for w in caught)
    with pytest.raises(moee.Error, match="text 0"):
        olmoe.encode([long_text, "short"], kind="hs", truncate=False)
