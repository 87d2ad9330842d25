"""_lib.py: finding libmoee.so and declaring the C API of engine/moee.h for ctypes.

Everything that knows the C side lives here: the library search, the structures
(field for field as in engine/moee.h; tests/python/test_abi.py compiles a C program
that checks every size and offset against the header), and the functions' argument
types. The rest of the package speaks Python.

The library is searched, first hit wins:
  1. the file named by the environment variable MOEE_LIBRARY;
  2. libmoee.so beside this file (where `make` copies it, and what pip installs);
  3. the repository root: build/libmoee.so, then libmoee.so.
It is loaded on first use, so `import moee` works before `make` has run.

ctypes releases the GIL around every call into a CDLL, so Python threads keep
running while the engine computes.
"""
import ctypes
import os
import threading
from ctypes import (POINTER, CFUNCTYPE, Structure, c_char, c_char_p, c_double, c_float,
                    c_int, c_int32, c_int64, c_size_t, c_uint32, c_uint64, c_void_p)


class Error(Exception):
    """Raised for everything that goes wrong in moee: the library's one-line message
    (what failed, and the file or text it concerns), or a bad argument value."""


Error.__module__ = "moee"    # shown as moee.Error, where users catch it


ERR_SIZE = 1024

# ---- enums (values as in engine/moee.h) -------------------------------------------
POOLS = {"last": 0, "mean": 1}
RW_SOURCES = {"auto": 0, "logits": 1, "probs": 2}
STANDARDIZE = {"auto": 0, "on": 1, "off": 2}
KINDS = {"hs": 0, "rw": 1, "moee": 2, "moee-sum": 3}
KIND_NAMES = ("hs", "rw", "moee", "moee-sum")
POOL_NAMES = {v: k for k, v in POOLS.items()}
RW_SOURCE_NAMES = {v: k for k, v in RW_SOURCES.items()}


# ---- structures -------------------------------------------------------------------
class ModelInfo(Structure):          # moee_model_info
    _fields_ = [
        ("arch", c_char * 16),
        ("name", c_char * 128),
        ("n_layers", c_int),
        ("n_moe_layers", c_int),
        ("hidden", c_int),
        ("n_heads", c_int),
        ("n_kv_heads", c_int),
        ("head_dim", c_int),
        ("n_experts", c_int),
        ("n_experts_used", c_int),
        ("vocab_size", c_int),
        ("context_length", c_int),
        ("hs_dim", c_int),
        ("rw_dim", c_int),
        ("has_tokenizer", c_int),
        ("weight_type", c_uint32),
        ("file_bytes", c_uint64),
        ("fingerprint", c_char * 33),
    ]


class CStats(Structure):             # moee_stats
    _fields_ = [
        ("dim", c_int64),
        ("count", c_int64),
        ("mean", POINTER(c_double)),
        ("std", POINTER(c_double)),
    ]


class CStatistics(Structure):        # moee_statistics
    _fields_ = [
        ("hs", CStats),
        ("rw", CStats),
        ("model_fingerprint", c_char * 33),
        ("arch", c_char * 16),
        ("hs_dim", c_int64),
        ("rw_dim", c_int64),
        ("prompt", c_char_p),
        ("template_text", c_char_p),
        ("instruction", c_char_p),
        ("pool", c_int),
        ("rw_source", c_int),
    ]


PROGRESS = CFUNCTYPE(None, c_void_p, c_int64, c_int64, c_int64)


class EmbedOptions(Structure):       # moee_embed_options
    _fields_ = [
        ("template_name", c_char_p),
        ("custom_template", c_char_p),
        ("instruction", c_char_p),
        ("pool", c_int),
        ("rw_source", c_int),
        ("batch_tokens", c_int64),
        ("truncate", c_int),
        ("replace_invalid_utf8", c_int),
        ("threads", c_int),
        ("standardize", c_int),
        ("alpha", c_float),
        ("stats", POINTER(CStatistics)),
        ("token_ids", c_int),
        ("progress", PROGRESS),
        ("progress_user", c_void_p),
    ]


class EmbedInput(Structure):         # moee_input
    _fields_ = [
        ("texts", POINTER(c_char_p)),
        ("lens", POINTER(c_size_t)),
        ("ids", POINTER(POINTER(c_int32))),
        ("id_lens", POINTER(c_int64)),
        ("n", c_int64),
    ]


class EmbedCounts(Structure):        # moee_embed_counts
    _fields_ = [("texts", c_int64), ("tokens", c_int64), ("truncated", c_int64)]


class EmbedOutput(Structure):        # moee_output
    _fields_ = [
        ("kinds", POINTER(c_float) * 4),
        ("raw_hs", POINTER(c_float)),
        ("raw_rw", POINTER(c_float)),
        ("stats_out", POINTER(CStatistics)),
        ("counts", EmbedCounts),
        ("truncated_rows", POINTER(c_int64)),
    ]


STRUCTS = {  # C name -> ctypes class, for the ABI test
    "moee_model_info": ModelInfo, "moee_stats": CStats, "moee_statistics": CStatistics,
    "moee_embed_options": EmbedOptions, "moee_input": EmbedInput,
    "moee_embed_counts": EmbedCounts, "moee_output": EmbedOutput,
}

# ---- functions: name -> (restype, argtypes) ----------------------------------------
_E = (c_char_p, c_size_t)            # every fallible function ends with (err, err_size)
FUNCTIONS = {
    "moee_model_load": (c_int, (c_char_p, POINTER(c_void_p)) + _E),
    "moee_model_free": (None, (c_void_p,)),
    "moee_model_get_info": (POINTER(ModelInfo), (c_void_p,)),
    "moee_prompt_build": (c_int, (c_char_p, c_size_t, c_char_p, c_char_p, c_char_p,
                                  POINTER(c_void_p), POINTER(c_size_t)) + _E),
    "moee_tokenize": (c_int, (c_void_p, c_char_p, c_size_t, c_int, POINTER(POINTER(c_int32)),
                              POINTER(c_int64)) + _E),
    "moee_kind_dim": (c_int64, (c_int, c_int64, c_int64)),
    "moee_embed_options_init": (None, (POINTER(EmbedOptions),)),
    "moee_embed": (c_int, (c_void_p, POINTER(EmbedOptions), POINTER(EmbedInput),
                           POINTER(EmbedOutput)) + _E),
    "moee_statistics_free": (None, (POINTER(CStatistics),)),
    "moee_statistics_save": (c_int, (c_char_p, POINTER(CStatistics)) + _E),
    "moee_statistics_load": (c_int, (c_char_p, POINTER(CStatistics)) + _E),
}

_lock = threading.Lock()
_lib = None
_free = None


def candidates():
    """The paths tried, in order (see the module's docstring)."""
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(os.path.dirname(here)))
    paths = []
    if os.environ.get("MOEE_LIBRARY"):
        paths.append(os.environ["MOEE_LIBRARY"])
    paths.append(os.path.join(here, "libmoee.so"))
    paths.append(os.path.join(root, "build", "libmoee.so"))
    paths.append(os.path.join(root, "libmoee.so"))
    return paths


def lib():
    """The loaded library, its functions declared (loaded once per process)."""
    global _lib, _free
    with _lock:
        if _lib is not None:
            return _lib
        env = os.environ.get("MOEE_LIBRARY")
        tried = candidates()
        path = env if env else next((p for p in tried if os.path.exists(p)), None)
        if path is None:
            raise Error("libmoee.so not found (looked for %s); run `make` in the moee "
                        "repository or set MOEE_LIBRARY" % ", ".join(tried))
        try:
            handle = ctypes.CDLL(path)
        except OSError as e:
            raise Error("cannot load %s: %s" % (path, e)) from None
        for name, (restype, argtypes) in FUNCTIONS.items():
            try:
                f = getattr(handle, name)
            except AttributeError:      # an older library: fail when it is needed
                f = _missing(path, name)
            f.restype = restype
            f.argtypes = argtypes
            setattr(handle, name, f)
        names = []
        table = ctypes.cast(handle.moee_template_names, POINTER(c_char_p))
        while table[len(names)] is not None:
            names.append(table[len(names)].decode())
        handle.template_names = tuple(names)
        handle.path = path
        # memory the library malloc'ed for us (tokenize, prompt_build) goes back to
        # the C library's free: the library is linked against the same libc.
        _free = ctypes.CDLL(None).free
        _free.argtypes = (c_void_p,)
        _free.restype = None
        _lib = handle
        return _lib


def _missing(path, name):
    def missing(*args):
        raise Error("%s lacks %s (an older libmoee? rebuild with `make`)" % (path, name))
    return missing


def free(pointer):
    _free(ctypes.cast(pointer, c_void_p))


def call(function, *args):
    """Calls a fallible library function; its one-line error becomes moee.Error."""
    err = ctypes.create_string_buffer(ERR_SIZE)
    if function(*args, err, ERR_SIZE) != 0:
        raise Error(err.value.decode("utf-8", "replace") or "%s failed" % function.__name__)
