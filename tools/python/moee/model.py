"""model.py: moee.Model, one GGUF model in memory and the embeddings it computes.

    model = moee.Model("olmoe.q4_0.gguf")
    vectors = model.encode(["A man plays a guitar.", "A woman slices an onion."])

Every option means what the same option of `moee embed` means, and the vectors are
bit-identical to the command's (the same engine function, moee_embed, makes both).
Arguments are checked here, in Python: a bad one raises TypeError or moee.Error
before anything reaches the library.

Threads: a Model may be shared by any number of Python threads. Its computations
run one at a time (a per-model lock), each with the model's `threads` cores (all
cores by default), so concurrent callers never oversubscribe the machine; the GIL
is released while the engine computes. Two Models in one process each use their
own thread count: give each a share of the cores.

Processes: load the model in the process that uses it. A Model does not survive a
fork (the engine's OpenMP threads do not), so using one loaded before a fork raises
moee.Error; Ray actors, Spark tasks and multiprocessing workers load their own
(the weights are memory-mapped, so workers on one machine share the page cache).
"""
import ctypes
import inspect
import math
import numbers
import os
import sys
import threading
import warnings
from ctypes import POINTER, byref, c_char_p, c_float, c_int32, c_int64, c_size_t, c_void_p

import numpy as np

from . import _lib
from ._lib import Error
from .stats import Stats, path_arg, stats_arg


class Model:
    """A GGUF model (olmoe, qwen2moe, deepseek) loaded for embedding.

    path     the GGUF file (memory-mapped; the weights are never copied)
    threads  cores one computation uses (None: all)
    stats    statistics (a moee.Stats or a path to a file saved by Stats.save or
             `moee embed --stats-out`) that encode uses when it is given none:
             with them a single query is standardized like the corpus they came from
    """

    def __init__(self, path, threads=None, stats=None):
        self._handle = None
        path = path_arg(path, "Model: path")
        if threads is not None and (not _is_int(threads) or threads < 1):
            raise Error("Model: threads must be a positive integer or None, not %r" % (threads,))
        stats = stats_arg(stats, "Model: stats")
        lib = _lib.lib()
        handle = c_void_p()
        _lib.call(lib.moee_model_load, os.fsencode(path), byref(handle))
        self._lib = lib
        self._handle = handle
        self._pid = os.getpid()
        self._compute = threading.Lock()       # one computation at a time
        self._state = threading.Condition()    # guards _users and close()
        self._users = 0
        self.path = os.fspath(path)
        self.threads = threads
        self.stats = stats
        c = lib.moee_model_get_info(handle).contents
        info = {name: getattr(c, name) for name, _ in _lib.ModelInfo._fields_}
        for key in ("arch", "name", "fingerprint"):
            info[key] = info[key].decode("utf-8", "replace")
        info["has_tokenizer"] = bool(info["has_tokenizer"])
        info["path"] = self.path
        info["dims"] = {k: lib.moee_kind_dim(_lib.KINDS[k], c.hs_dim, c.rw_dim) for k in _lib.KIND_NAMES}
        self._info = info

    @property
    def info(self):
        """The model's architecture and dimensions (a dict; dims holds each kind's)."""
        return dict(self._info, dims=dict(self._info["dims"]))

    def __repr__(self):
        return "moee.Model(%r, arch=%r, hs_dim=%d, rw_dim=%d%s)" % (
            self.path, self._info["arch"], self._info["hs_dim"], self._info["rw_dim"],
            "" if self._handle is not None else ", closed")

    # ---- life cycle ---------------------------------------------------------------
    def close(self):
        """Frees the model (waits for calls in progress). Later calls raise moee.Error."""
        with self._state:
            handle, self._handle = self._handle, None
            while self._users:
                self._state.wait()
        if handle is not None and self._pid == os.getpid():
            self._lib.moee_model_free(handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_handle", None) is not None:
            self.close()

    def __reduce__(self):
        raise TypeError("a moee.Model cannot be pickled: load the model in the worker process "
                        "(moee.Model(path) there)")

    def _enter(self, what):
        with self._state:
            if self._handle is None:
                raise Error("%s: the model is closed" % what)
            if self._pid != os.getpid():
                raise Error("%s: this model was loaded in process %d before a fork; load the "
                            "model in the worker process after the fork" % (what, self._pid))
            self._users += 1
            return self._handle

    def _leave(self):
        with self._state:
            self._users -= 1
            self._state.notify_all()

    # ---- embeddings ---------------------------------------------------------------
    def encode(self, sentences, kind="moee-sum", prompt="prompteol", template=None,
               instruction=None, pool="last", alpha=1.0, rw_source="auto", stats=None,
               batch_tokens=None, show_progress_bar=False, normalize_embeddings=False,
               standardize="auto", truncate=True):
        """Embeddings of texts, as `moee embed` computes them.

        sentences  a str (result shape (dim,)) or a sequence of str (shape (n, dim));
                   bytes are taken as UTF-8 (invalid UTF-8 is an error naming the text)
        kind       hs, rw, moee or moee-sum; or a list of them: a dict kind -> array,
                   all from one pass over the model
        prompt     none, prompteol, style, sentiment, tone, intent, complexity,
                   subjectivity, language_style, grammar_structure, or raw (the text
                   exactly as given); template: your own, with "*sent 0*" for the text;
                   instruction: a task instruction block before the text
        pool       last (the last token, as the paper) or mean
        alpha      weight of RW in moee-sum (>= 0)
        rw_source  auto (router logits for olmoe/qwen2moe, probabilities for deepseek),
                   logits or probs
        stats      standardization statistics (a Stats or a path); None: the model's
                   if it was given some, else those of these texts (which needs 2+)
        standardize  auto (on for rw, moee, moee-sum; off for hs), on or off
        truncate   a text longer than the context keeps its longest start that fits
                   (with a warning); False: such a text is an error
        normalize_embeddings  divide each row by its length (after everything else)
        Returns float32 arrays.
        """
        texts, single = _texts_arg(sentences)
        return self._embed(("texts", texts), single, kind, dict(
            prompt=prompt, template=template, instruction=instruction, pool=pool, alpha=alpha,
            rw_source=rw_source, stats=stats, batch_tokens=batch_tokens,
            show_progress_bar=show_progress_bar, standardize=standardize, truncate=truncate),
            normalize_embeddings, "encode")[0]

    def _encode_keeping_stats(self, texts, options):
        """encode(texts, **options) and the Stats it standardized with (or None)."""
        a = inspect.signature(self.encode).bind(texts, **options)
        a.apply_defaults()
        a = a.arguments
        texts, single = _texts_arg(a.pop("sentences"))
        kind, normalize = a.pop("kind"), a.pop("normalize_embeddings")
        return self._embed(("texts", texts), single, kind, a, normalize, "encode", want_stats=True)

    def encode_ids(self, ids, kind="moee-sum", pool="last", alpha=1.0, rw_source="auto",
                   stats=None, batch_tokens=None, show_progress_bar=False,
                   normalize_embeddings=False, standardize="auto", truncate=True):
        """Embeddings of token-id sequences, run exactly as given (no prompt, no
        special tokens added), as `moee embed --ids`. ids: one sequence of ints (result
        shape (dim,)) or a sequence of them (shape (n, dim)). Options as encode."""
        seqs, single = self._ids_arg(ids, "encode_ids")
        return self._embed(("ids", seqs), single, kind, dict(
            pool=pool, alpha=alpha, rw_source=rw_source, stats=stats, batch_tokens=batch_tokens,
            show_progress_bar=show_progress_bar, standardize=standardize, truncate=truncate),
            normalize_embeddings, "encode_ids")[0]

    def tokenize(self, text, prompt="prompteol", template=None, instruction=None):
        """The token ids the model sees for text with this prompt (a list of int): what
        encode runs, before any truncation. prompt="raw" tokenizes the text as given."""
        if not isinstance(text, (str, bytes)):
            raise TypeError("tokenize: text must be str or bytes, not %s" % type(text).__name__)
        data = _utf8(text, "tokenize: text")
        o = _Options(self, dict(prompt=prompt, template=template, instruction=instruction),
                     "tokenize", ids=False)
        lib = self._lib
        handle = self._enter("tokenize")
        try:
            prompt_ptr, prompt_len = c_void_p(), c_size_t()
            _lib.call(lib.moee_prompt_build, data, len(data), o.c.template_name,
                      o.c.custom_template, o.c.instruction, byref(prompt_ptr), byref(prompt_len))
            try:
                ids, n = POINTER(c_int32)(), c_int64()
                _lib.call(lib.moee_tokenize, handle, ctypes.cast(prompt_ptr, c_char_p),
                          prompt_len.value, 0, byref(ids), byref(n))
                try:
                    return ids[:n.value]
                finally:
                    _lib.free(ids)
            finally:
                _lib.free(prompt_ptr)
        finally:
            self._leave()

    # ---- the one path to moee_embed ---------------------------------------------
    def _embed(self, inp, single, kind, options, normalize, what, want_stats=False):
        kinds = _kinds_arg(kind, what)
        o = _Options(self, options, what, ids=inp[0] == "ids")
        n = len(inp[1])
        stats = None
        if n == 0:
            result = {k: np.zeros((0, self._info["dims"][k]), np.float32) for k in kinds}
        else:
            if o.standardizes(kinds) and o.stats is None and n < 2:
                raise Error(
                    "%s: %s standardizes with statistics of a corpus, and %d text has none of its "
                    "own: pass stats= to moee.Model() or %s() (a moee.Stats from "
                    "moee.Stats.compute(model, corpus, ...) or .load(path), or a file from "
                    "`moee embed --stats-out`), or use standardize='off' or kind='hs'"
                    % (what, "/".join(k for k in kinds if k != "hs") or kinds[0], n, what))
            result, stats = self._run(inp, kinds, o, want_stats and o.standardizes(kinds), what)
        if normalize:
            for a in result.values():
                norms = np.linalg.norm(a, axis=1, keepdims=True)
                np.divide(a, norms, out=a, where=norms > 0)
        if single:
            result = {k: a[0] for k, a in result.items()}
        return (result if isinstance(kind, (list, tuple)) else result[kinds[0]]), stats

    def _statistics(self, items, ids, options, what):
        """The statistics of a corpus (Stats.compute / compute_ids)."""
        if ids:
            seqs, single = self._ids_arg(items, what)
            inp = ("ids", seqs)
        else:
            texts, single = _texts_arg(items)
            inp = ("texts", texts)
        if single or len(inp[1]) < 2:
            raise Error("%s: statistics need at least 2 texts, got %d" % (what, 1 if single else len(inp[1])))
        o = _Options(self, dict(options, standardize="on", stats=None), what, ids=ids)
        o.stats = None      # never the model's: these are new statistics
        o.c.stats = None
        _, stats = self._run(inp, ["moee"], o, True, what)
        return stats

    def _run(self, inp, kinds, o, want_stats, what):
        """moee_embed on one input: {kind: array} and, if asked, the Stats used."""
        lib = self._lib
        n = len(inp[1])
        c_in = _lib.EmbedInput()
        c_in.n = n
        if inp[0] == "texts":
            texts = inp[1]
            c_texts = (c_char_p * n)(*texts)
            c_lens = (c_size_t * n)(*map(len, texts))
            c_in.texts, c_in.lens = c_texts, c_lens
        else:
            seqs = inp[1]
            c_ids = (POINTER(c_int32) * n)(*(s.ctypes.data_as(POINTER(c_int32)) for s in seqs))
            c_lens = (c_int64 * n)(*map(len, seqs))
            c_in.ids, c_in.id_lens = c_ids, c_lens
        out = _lib.EmbedOutput()
        result = {}
        for k in kinds:
            a = np.empty((n, self._info["dims"][k]), np.float32)
            out.kinds[_lib.KINDS[k]] = a.ctypes.data_as(POINTER(c_float))
            result[k] = a
        stats = None
        if want_stats:
            stats = Stats()
            out.stats_out = ctypes.pointer(stats._c)
        handle = self._enter(what)
        try:
            with self._compute:
                _lib.call(lib.moee_embed, handle, byref(o.c), byref(c_in), byref(out))
        finally:
            self._leave()
        if out.counts.truncated:
            warnings.warn("moee: %d of %d inputs were longer than the model's context (%d tokens) "
                          "and were truncated" % (out.counts.truncated, n, self._info["context_length"]),
                          stacklevel=4)
        return result, stats

    def _ids_arg(self, ids, what):
        """A sequence of ints (single) or a sequence of them -> ([int32 arrays], single)."""
        if isinstance(ids, (str, bytes)) or not hasattr(ids, "__len__"):
            raise TypeError("%s: ids must be a sequence of token ids or a sequence of such "
                            "sequences, not %s" % (what, type(ids).__name__))
        single = isinstance(ids, np.ndarray) and ids.ndim == 1 or \
            len(ids) > 0 and not isinstance(ids, np.ndarray) and _is_int(ids[0])
        seqs = [ids] if single else list(ids)
        vocab = self._info["vocab_size"]
        out = []
        for i, s in enumerate(seqs):
            if isinstance(s, (str, bytes)) or not hasattr(s, "__len__"):
                raise TypeError("%s: sequence %d must be a sequence of ints, not %s" % (what, i, type(s).__name__))
            a = np.asarray(s)
            if a.ndim != 1 or a.size and a.dtype.kind not in "iu" and a.dtype != object:
                raise TypeError("%s: sequence %d must be a flat sequence of ints" % (what, i))
            if a.dtype == object and not all(_is_int(x) for x in s):
                raise TypeError("%s: sequence %d must be a flat sequence of ints" % (what, i))
            if a.size == 0:
                raise Error("%s: sequence %d is empty" % (what, i))
            lo, hi = int(a.min()), int(a.max())
            if lo < 0 or hi >= vocab:
                bad = lo if lo < 0 else hi
                raise Error("%s: sequence %d: id %d is outside the vocabulary (%d ids)" % (what, i, bad, vocab))
            out.append(np.ascontiguousarray(a, dtype=np.int32))
        return out, single


class _Options:
    """Validated options as a moee_embed_options (and the objects it points into)."""

    def __init__(self, model, opt, what, ids):
        lib = model._lib
        c = _lib.EmbedOptions()
        lib.moee_embed_options_init(byref(c))
        self.c = c
        self.stats = None
        if not ids:
            prompt, template, instruction = opt["prompt"], opt.get("template"), opt.get("instruction")
            _check_str(prompt, "prompt", what)
            if prompt != "raw" and prompt not in lib.template_names:
                raise Error("%s: prompt %r is not one of %s or raw" % (what, prompt, ", ".join(lib.template_names)))
            if template is not None:
                _check_str(template, "template", what)
                if "*sent 0*" not in template:
                    raise Error("%s: the template does not contain \"*sent 0*\" (where the text goes)" % what)
            if instruction is not None:
                _check_str(instruction, "instruction", what)
                if prompt == "raw" and template is None:
                    raise Error("%s: an instruction cannot be used with the raw prompt" % what)
            c.template_name = _utf8(prompt, what + ": prompt")
            c.custom_template = None if template is None else _utf8(template, what + ": template")
            c.instruction = None if instruction is None else _utf8(instruction, what + ": instruction")
        if "pool" in opt:
            c.pool = _choice(opt["pool"], _lib.POOLS, "pool", what)
        if "rw_source" in opt:
            c.rw_source = _choice(opt["rw_source"], _lib.RW_SOURCES, "rw_source", what)
        if opt.get("batch_tokens") is not None:   # None: the library's default
            b = opt["batch_tokens"]
            if not _is_int(b) or b < 1:
                raise Error("%s: batch_tokens must be a positive integer, not %r" % (what, b))
            c.batch_tokens = b
        if "alpha" in opt:
            a = opt["alpha"]
            if not isinstance(a, numbers.Real) or isinstance(a, bool) or not math.isfinite(a) or a < 0:
                raise Error("%s: alpha must be a finite number >= 0, not %r" % (what, a))
            c.alpha = a
        if "standardize" in opt:
            s = opt["standardize"]
            s = {True: "on", False: "off"}.get(s, s) if isinstance(s, bool) else s
            c.standardize = _choice(s, _lib.STANDARDIZE, "standardize", what)
        if "truncate" in opt:
            if not isinstance(opt["truncate"], (bool, int)):
                raise TypeError("%s: truncate must be True or False" % what)
            c.truncate = 1 if opt["truncate"] else 0
        if "stats" in opt:
            self.stats = stats_arg(opt["stats"], what + ": stats")
            if self.stats is None:
                self.stats = model.stats
            if self.stats is not None:
                c.stats = ctypes.pointer(self.stats._c)
        c.threads = model.threads or 0
        if opt.get("show_progress_bar"):
            self.progress = _lib.PROGRESS(_progress)   # kept alive with the options
            c.progress = self.progress

    def standardizes(self, kinds):
        s = self.c.standardize
        return s == _lib.STANDARDIZE["on"] or s == _lib.STANDARDIZE["auto"] and any(k != "hs" for k in kinds)


def _progress(user, done, total, tokens):
    sys.stderr.write("\rmoee: %d/%d texts, %d tokens" % (done, total, tokens))
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _is_int(x):
    return isinstance(x, (numbers.Integral, np.integer)) and not isinstance(x, bool)


def _check_str(value, name, what):
    if not isinstance(value, str):
        raise TypeError("%s: %s must be str, not %s" % (what, name, type(value).__name__))


def _choice(value, table, name, what):
    if not isinstance(value, str) or value not in table:
        raise Error("%s: %s must be one of %s, not %r" % (what, name, ", ".join(table), value))
    return table[value]


def _utf8(text, what):
    if isinstance(text, bytes):
        return text
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise Error("%s is not valid Unicode (%s)" % (what, e.reason)) from None


def _texts_arg(sentences):
    """A str or a sequence of str/bytes -> ([bytes], single)."""
    if isinstance(sentences, (str, bytes)):
        return [_utf8(sentences, "text 0")], True
    if isinstance(sentences, np.ndarray) and sentences.ndim != 1:
        raise TypeError("texts must be a str or a 1-D sequence of str")
    try:
        items = list(sentences)
    except TypeError:
        raise TypeError("texts must be a str or a sequence of str, not %s" % type(sentences).__name__) from None
    out = []
    for i, t in enumerate(items):
        if not isinstance(t, (str, bytes)):
            raise TypeError("text %d is %s, not str" % (i, type(t).__name__))
        out.append(_utf8(t, "text %d" % i))
    return out, False


def _kinds_arg(kind, what):
    kinds = list(kind) if isinstance(kind, (list, tuple)) else [kind]
    if not kinds:
        raise Error("%s: no kind asked for" % what)
    for k in kinds:
        if not isinstance(k, str) or k not in _lib.KINDS:
            raise Error("%s: kind must be one of %s, not %r" % (what, ", ".join(_lib.KIND_NAMES), k))
    return list(dict.fromkeys(kinds))
