"""stats.py: moee.Stats, the standardization statistics of a corpus and what made them.

The kinds rw, moee and moee-sum z-score HS and RW per dimension. Over a corpus that
is what `encode` does by itself; a single query has no statistics of its own, so it
borrows the corpus's: compute them once (Stats.compute, or `moee embed --stats-out`),
save them, and give them to Model(path, stats=...) or encode(..., stats=...).
The statistics remember the model (fingerprint) and the options that made them, and
the engine refuses to use them with another model or other options.
"""
import ctypes
import os

import numpy as np

from . import _lib
from ._lib import Error


class Stats:
    """Per-dimension mean and standard deviation of HS and RW over a corpus, with
    their provenance. Make one with Stats.compute or Stats.load; save it with save."""

    def __init__(self):
        self._c = _lib.CStatistics()     # zeroed: freeing it is a no-op

    @classmethod
    def compute(cls, model, texts, prompt="prompteol", template=None, instruction=None,
                pool="last", rw_source="auto", batch_tokens=None, show_progress_bar=False):
        """The statistics of texts (at least 2) as the model embeds them with these
        options (the same options later encode calls must use)."""
        return model._statistics(texts, False, dict(
            prompt=prompt, template=template, instruction=instruction, pool=pool,
            rw_source=rw_source, batch_tokens=batch_tokens,
            show_progress_bar=show_progress_bar), "Stats.compute")

    @classmethod
    def compute_ids(cls, model, ids, pool="last", rw_source="auto", batch_tokens=None,
                    show_progress_bar=False):
        """The statistics of token-id sequences (at least 2), as Stats.compute."""
        return model._statistics(ids, True, dict(
            pool=pool, rw_source=rw_source, batch_tokens=batch_tokens,
            show_progress_bar=show_progress_bar), "Stats.compute_ids")

    @classmethod
    def load(cls, path):
        """Statistics saved by Stats.save or `moee embed --stats-out`."""
        path = path_arg(path, "Stats.load: path")
        lib = _lib.lib()
        s = cls()
        _lib.call(lib.moee_statistics_load, os.fsencode(path), ctypes.byref(s._c))
        return s

    def save(self, path):
        """Writes the statistics as JSON (what `moee embed --stats-in` reads)."""
        path = path_arg(path, "Stats.save: path")
        _lib.call(_lib.lib().moee_statistics_save, os.fsencode(path), ctypes.byref(self._c))

    # ---- what they hold (copies) -----------------------------------------------
    def _vector(self, part, field):
        s = getattr(self._c, part)
        if s.dim == 0:
            return None
        return np.ctypeslib.as_array(getattr(s, field), shape=(s.dim,)).copy()

    hs_mean = property(lambda self: self._vector("hs", "mean"), doc="float64 [hs_dim], or None")
    hs_std = property(lambda self: self._vector("hs", "std"), doc="float64 [hs_dim], or None")
    rw_mean = property(lambda self: self._vector("rw", "mean"), doc="float64 [rw_dim], or None")
    rw_std = property(lambda self: self._vector("rw", "std"), doc="float64 [rw_dim], or None")

    @property
    def count(self):
        """How many texts the statistics were computed over."""
        return int(self._c.hs.count or self._c.rw.count)

    @property
    def provenance(self):
        """The model and options that produced the statistics."""
        c = self._c
        text = lambda p: None if p is None else p.decode("utf-8", "replace")
        return {
            "model_fingerprint": c.model_fingerprint.decode(), "arch": c.arch.decode(),
            "hs_dim": c.hs_dim, "rw_dim": c.rw_dim, "prompt": text(c.prompt),
            "template": text(c.template_text), "instruction": text(c.instruction),
            "pool": _lib.POOL_NAMES.get(c.pool, str(c.pool)),
            "rw_source": _lib.RW_SOURCE_NAMES.get(c.rw_source, str(c.rw_source)),
            "count": self.count,
        }

    def __repr__(self):
        p = self.provenance
        return "moee.Stats(count=%d, arch=%r, prompt=%r, pool=%r, rw_source=%r)" % (
            p["count"], p["arch"], p["prompt"], p["pool"], p["rw_source"])

    def close(self):
        """Frees the C memory now (otherwise when the object is collected)."""
        c, self._c = self._c, _lib.CStatistics()
        if c.hs.dim or c.rw.dim or c.prompt or c.template_text or c.instruction:
            _lib.lib().moee_statistics_free(ctypes.byref(c))

    def __del__(self):
        try:
            self.close()
        except Exception:       # at interpreter exit the library may already be gone
            pass


def path_arg(path, what):
    """A file path argument: str, bytes or os.PathLike."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError("%s must be a path (str or os.PathLike), not %s" % (what, type(path).__name__))
    path = os.fspath(path)
    if len(path) == 0:
        raise Error("%s is empty" % what)
    return path


def stats_arg(stats, what):
    """None, a Stats, or a path to a statistics file -> None or a Stats."""
    if stats is None or isinstance(stats, Stats):
        return stats
    if isinstance(stats, (str, bytes, os.PathLike)):
        return Stats.load(stats)
    raise TypeError("%s must be a moee.Stats, a path to a statistics file, or None, not %s"
                    % (what, type(stats).__name__))
