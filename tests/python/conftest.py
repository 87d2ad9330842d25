"""Fixtures for the Python package's tests (run by tests/tools_python.sh from the
repository root, with MOEE = the moee binary of the build under test and
MOEE_LIBRARY = its libmoee.so).

Models are synthesized once per session by `moee synth` (random weights, real
tokenizers from tests/data/tokenizer/): an OLMoE-shaped Q4_0 one and a DeepSeek-shaped
Q8_0 one (BOS token, shared experts, probabilities as RW)."""
import gzip
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "python"))
MOEE = os.path.abspath(os.environ.get("MOEE", os.path.join(ROOT, "moee")))

# texts with what the prompt rules touch: quotes, underscores, final punctuation,
# non-ASCII (NFC), an empty text, a NUL-free long-ish one
TEXTS = [
    "A man is playing a guitar.",
    "A man plays the guitar",
    'She said "hello" to the snake_case world!',
    "Ünïcödé — café, naïve, 日本語のテキスト",
    "",
    "   leading and trailing spaces   ",
    "The stock market fell sharply today?",
    "one " * 40,
]


def run_moee(*args, stdin=None):
    """Runs the moee command; returns (exit status, stdout, stderr)."""
    p = subprocess.run([MOEE] + [str(a) for a in args], input=stdin, capture_output=True)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def synth(tmp, arch, type_, tokenizer_gz):
    tok = os.path.join(tmp, arch + "-tokenizer.gguf")
    with gzip.open(os.path.join(ROOT, "tests", "data", "tokenizer", tokenizer_gz)) as f, open(tok, "wb") as g:
        shutil.copyfileobj(f, g)
    path = os.path.join(tmp, "%s-tiny.%s.gguf" % (arch, type_))
    rc, _, err = run_moee("synth", "--arch", arch, "--shape", "tiny", "--type", type_,
                          "--tokenizer", tok, "-o", path)
    assert rc == 0, err
    os.remove(tok)
    return path


@pytest.fixture(scope="session")
def tmp_session(tmp_path_factory):
    return str(tmp_path_factory.mktemp("moee"))


@pytest.fixture(scope="session")
def olmoe_path(tmp_session):
    return synth(tmp_session, "olmoe", "q4_0", "olmoe.gguf.gz")


@pytest.fixture(scope="session")
def deepseek_path(tmp_session):
    return synth(tmp_session, "deepseek", "q8_0", "ggml-vocab-deepseek-llm.gguf.gz")


@pytest.fixture(scope="session")
def ids_model_path():
    """A golden model without a tokenizer (token-id input only)."""
    return os.path.join(ROOT, "tests", "data", "golden", "llamacpp-gguf", "olmoe-tiny.q8_0.gguf")


@pytest.fixture(scope="session")
def olmoe(olmoe_path):
    import moee
    with moee.Model(olmoe_path) as m:
        yield m


@pytest.fixture(scope="session")
def deepseek(deepseek_path):
    import moee
    with moee.Model(deepseek_path) as m:
        yield m


@pytest.fixture(scope="session")
def texts_file(tmp_session):
    path = os.path.join(tmp_session, "texts.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in TEXTS))
    return path


def cli_embed(model_path, input_path, *options, ids=False):
    """`moee embed` to a .npy; returns the array (or raises with its error)."""
    out = input_path + ".%d.npy" % cli_embed.counter
    cli_embed.counter += 1
    rc, _, err = run_moee("embed", "-m", model_path, "--ids" if ids else "-i", input_path,
                          "-o", out, "-q", *options)
    assert rc == 0, err
    return np.load(out)


cli_embed.counter = 0
