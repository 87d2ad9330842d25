"""moee: Mixture-of-Experts LLMs as text-embedding models on CPU, from Python.

    import moee
    model = moee.Model("olmoe.q4_0.gguf")
    vectors = model.encode(["A man plays a guitar.", "A woman slices an onion."])
    # float32 [2, hs_dim + rw_dim]; vectors @ vectors.T = cos(HS) + cos(RW)

A thin ctypes layer over libmoee.so (the C engine, built by `make`); numpy is the only
dependency. The vectors are bit-identical to `moee embed` with the same options.
See the README's Python section for statistics, BERTopic, Ray and Spark.
"""
from ._lib import Error
from .model import Model
from .stats import Stats

__version__ = "0.1.0"
__all__ = ["Model", "Stats", "Error"]
