"""bertopic.py: moee as BERTopic's embedding backend.

    from bertopic import BERTopic
    from moee.bertopic import MoeeBackend
    topic_model = BERTopic(embedding_model=MoeeBackend("olmoe.q4_0.gguf", kind="moee-sum"))
    topics, probs = topic_model.fit_transform(docs)

BERTopic passes through only instances of its BaseEmbedder, so MoeeBackend subclasses
bertopic.backend.BaseEmbedder when BERTopic is importable; without it MoeeBackend is
a plain class with the same embed(documents, verbose=False).

Statistics: the first call (BERTopic's fit, on the whole corpus) standardizes over its
documents, exactly as encode does, and the backend keeps those statistics for every
later call (transform on new documents, a single document, topic words), so they land
in the same space as the corpus. Give stats=... to use statistics of your own instead.
"""
from .model import Model
from .stats import stats_arg

try:
    from bertopic.backend import BaseEmbedder as _Base
except ImportError:
    _Base = object


class MoeeBackend(_Base):
    """model_or_path: a moee.Model, or the path of a GGUF file to load (closed with the
    backend). encode_options: any of Model.encode's options (kind, prompt, alpha, ...)."""

    def __init__(self, model_or_path, **encode_options):
        model = model_or_path if isinstance(model_or_path, Model) else Model(model_or_path)
        if _Base is not object:
            super().__init__(embedding_model=model)
        self.embedding_model = model
        self._owns_model = model is not model_or_path
        self.stats = stats_arg(encode_options.pop("stats", None), "MoeeBackend: stats") or model.stats
        self.encode_options = encode_options
        # a bad option fails here, not in the middle of BERTopic's fit
        model.encode([], **encode_options)

    def embed(self, documents, verbose=False):
        """float32 [len(documents), dim], as Model.encode with the backend's options."""
        documents = [documents] if isinstance(documents, str) else list(documents)
        options = dict(self.encode_options, show_progress_bar=verbose)
        if self.stats is None and len(documents) >= 2:
            # the corpus: standardized over itself; its statistics (None for kinds that
            # need none) serve every later call
            vectors, self.stats = self.embedding_model._encode_keeping_stats(documents, options)
            return vectors
        return self.embedding_model.encode(documents, stats=self.stats, **options)

    def embed_documents(self, document, verbose=False):
        return self.embed(document, verbose)

    def embed_words(self, words, verbose=False):
        return self.embed(words, verbose)

    def close(self):
        if self._owns_model:
            self.embedding_model.close()
