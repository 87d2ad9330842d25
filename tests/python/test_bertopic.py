"""moee.bertopic.MoeeBackend: BERTopic's embedding-backend contract, with a stand-in
bertopic.backend.BaseEmbedder (BERTopic itself is not installed here), and the plain
class without BERTopic."""
import importlib
import os
import subprocess
import sys

import numpy as np
import pytest

import moee
from conftest import ROOT, TEXTS

# The parts of BERTopic's BaseEmbedder that BERTopic relies on.
FAKE_BASE = '''
class BaseEmbedder:
    def __init__(self, embedding_model=None, word_embedding_model=None):
        self.embedding_model = embedding_model
        self.word_embedding_model = word_embedding_model
    def embed(self, documents, verbose=False):
        raise NotImplementedError
    def embed_words(self, words, verbose=False):
        return self.embed(words, verbose)
    def embed_documents(self, document, verbose=False):
        return self.embed(document, verbose)
'''


@pytest.fixture
def fake_bertopic(tmp_path, monkeypatch):
    pkg = tmp_path / "bertopic"
    (pkg / "backend").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "backend" / "__init__.py").write_text(FAKE_BASE)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("bertopic", "bertopic.backend", "moee.bertopic"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    module = importlib.import_module("moee.bertopic")
    yield module, importlib.import_module("bertopic.backend").BaseEmbedder
    sys.modules.pop("moee.bertopic", None)


def test_subclass_of_base_embedder(fake_bertopic, olmoe):
    module, base = fake_bertopic
    backend = module.MoeeBackend(olmoe, kind="moee-sum", prompt="prompteol")
    assert isinstance(backend, base) and backend.embedding_model is olmoe


def test_embed_contract(fake_bertopic, olmoe):
    module, _ = fake_bertopic
    backend = module.MoeeBackend(olmoe, kind="moee-sum", prompt="none", alpha=0.5)
    expected = olmoe.encode(TEXTS, kind="moee-sum", prompt="none", alpha=0.5)
    got = backend.embed(TEXTS, verbose=False)           # the fit: statistics over the corpus
    assert isinstance(got, np.ndarray) and got.dtype == np.float32
    assert got.shape == (len(TEXTS), olmoe.info["dims"]["moee-sum"])
    assert got.tobytes() == expected.tobytes()
    assert backend.stats is not None and backend.stats.count == len(TEXTS)
    # later calls (transform, one document, topic words) use the corpus's statistics
    one = backend.embed_documents(["a new document"])
    assert one.shape == (1, expected.shape[1])
    assert one.tobytes() == olmoe.encode(["a new document"], kind="moee-sum", prompt="none",
                                         alpha=0.5, stats=backend.stats).tobytes()
    assert backend.embed(TEXTS[:3]).tobytes() == expected[:3].tobytes()
    assert backend.embed_words(["guitar", "onion"], verbose=True).shape == (2, expected.shape[1])


def test_backend_from_path_and_options(fake_bertopic, olmoe_path, tmp_path):
    module, _ = fake_bertopic
    with pytest.raises(moee.Error, match="kind"):
        module.MoeeBackend(olmoe_path, kind="nope")
    with pytest.raises(TypeError):
        module.MoeeBackend(olmoe_path, no_such_option=1)
    backend = module.MoeeBackend(olmoe_path, kind="hs")
    assert backend.embed(["only one"]).shape == (1, 64)          # hs needs no statistics
    assert backend.stats is None
    stats = moee.Stats.compute(backend.embedding_model, TEXTS)
    given = module.MoeeBackend(backend.embedding_model, stats=stats)
    assert given.embed(["q"]).tobytes() == backend.embedding_model.encode(["q"], stats=stats).tobytes()
    backend.close()
    with pytest.raises(moee.Error, match="closed"):
        backend.embed(["x", "y"])


def test_plain_class_without_bertopic():
    code = ("import sys; sys.modules['bertopic'] = None; "
            "from moee.bertopic import MoeeBackend; print(MoeeBackend.__mro__[1].__name__, "
            "hasattr(MoeeBackend, 'embed'))")
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "tools", "python"))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert p.returncode == 0 and p.stdout.split() == ["object", "True"], p.stderr
