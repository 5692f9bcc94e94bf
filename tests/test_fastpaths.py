"""The vectorized paths equal their plain-Python definitions on Unicode text.

Lowercasing is Python's ``str.lower`` on every path (`seqdata.flat.lower_texts`), so the
texts draw on the characters whose lowercase differs between Unicode versions (polars' tables
and Python's) and on the context-dependent ``"Σ"``.
"""

from __future__ import annotations

import itertools
import pickle
from collections import Counter

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import seqdata.lookup as lookup_module
from seqdata.counts import TokenCounts
from seqdata.flat import _lower_differs, drop_empty, flat_pieces, lower_texts
from seqdata.lookup import FormIds, TokenLookup
from seqdata.pipeline import PairPipeline
from seqdata.tokenizers import CharTokenizer, WhitespaceTokenizer
from seqdata.vocab import Vocab, _value_set

# Letters that polars and Python lowercase differently (Unicode 16 additions), Greek sigma in
# its contexts, dotted capital I, sharp s, and whitespace that is not ASCII.
TRICKY = "\u1c89\ua7cb\ua7dc\U00010d50\U00016ea0ΣσςΟΔİIßẞÄäǅ\u00a0\u2003\u3000\u202f\u0345\u0307'."
texts_strategy = st.lists(
    st.text(alphabet=st.sampled_from(TRICKY + "ab Z\t\n"), max_size=14)
    | st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=10),
    max_size=8,
)


def _ordinary_ids(vocab: Vocab) -> dict[str, int]:
    """The plain loop's token → id map: a special written in the text is UNK (see the data
    guarantees), so only the ordinary tokens are in it."""
    first = len(vocab.specials)
    return {token: i for i, token in enumerate(vocab.tokens) if i >= first}


def test_a_capitalised_vocabulary_token_is_not_matched_by_a_lowering_pipeline() -> None:
    tok = WhitespaceTokenizer(lower=True)
    vocab = Vocab(["Foo", "bar", "ΟΔΟΣ"])
    pipe = PairPipeline(tok, tok, vocab, vocab)
    (src, _), _ = pipe.encode_flat(["Foo BAR foo ΟΔΟΣ"], ["x"], num_threads=1)
    assert src.tolist() == [vocab.unk_id, vocab["bar"], vocab.unk_id, vocab.unk_id]
    assert src.tolist() == pipe.encode_source("Foo BAR foo ΟΔΟΣ")


def test_the_differing_characters_are_found() -> None:
    differ = set(_lower_differs())
    assert "\u03a3" in differ  # always re-lowered by Python (context)
    assert "A" not in differ and "Ä" not in differ
    for char in differ - {"\u03a3"}:
        assert pl.Series([char]).str.to_lowercase()[0] != char.lower()


@settings(max_examples=300, deadline=None)
@given(texts=texts_strategy)
def test_lower_texts_is_str_lower(texts: list[str]) -> None:
    assert lower_texts(pl.Series(texts, dtype=pl.String)).to_list() == [t.lower() for t in texts]


@settings(max_examples=200, deadline=None)
@given(texts=texts_strategy, lower=st.booleans())
def test_token_counts_equal_a_counter(texts: list[str], lower: bool) -> None:
    tok = WhitespaceTokenizer(lower=lower)
    expected = Counter(token for text in texts for token in tok(text))
    counts = TokenCounts().update_texts(texts, tok, num_threads=1)
    assert counts.to_dict() == dict(expected)
    assert counts.examples == len(texts)


@settings(max_examples=100, deadline=None)
@given(texts=texts_strategy)
def test_char_counts_equal_a_counter(texts: list[str]) -> None:
    counts = TokenCounts().update_texts(texts, CharTokenizer(), num_threads=1)
    assert counts.to_dict() == dict(Counter(ch for text in texts for ch in text))


# `seqdata.lookup` probes with Arrow's index_in (factor 0: always), or its polars mapping
# (factor 10**9) kept as long as it can be (the default spare) or rebuilt after every probe
probe_paths = st.sampled_from(
    [(0, lookup_module._SPARE), (10**9, lookup_module._SPARE), (10**9, -(10**9))]
)


def forced(patch: pytest.MonkeyPatch, path: tuple[int, int]) -> None:
    patch.setattr(lookup_module, "_INDEX_IN_FACTOR", path[0])
    patch.setattr(lookup_module, "_SPARE", path[1])


@settings(max_examples=150, deadline=None)
@given(texts=texts_strategy, vocab_texts=texts_strategy, path=probe_paths)
def test_encode_flat_lower_equals_the_python_loop(
    texts: list[str], vocab_texts: list[str], path: tuple[int, int]
) -> None:
    tok = WhitespaceTokenizer(lower=True)
    # raw tokens too: a vocabulary token that str.lower changes must never match a piece
    vocab = Vocab.build([[*t.split(), *tok(t)] for t in vocab_texts])
    pipe = PairPipeline(tok, tok, vocab, vocab)
    kept = [t for t in texts if t.lower().split()]  # an empty source is an error
    with pytest.MonkeyPatch.context() as patch:
        forced(patch, path)
        (src, src_off), (tgt, tgt_off) = pipe.encode_flat(kept, kept, num_threads=1)
    w2i, unk = _ordinary_ids(vocab), vocab.unk_id
    loop = [[w2i.get(w, unk) for w in line.lower().split()] for line in kept]
    assert [src[a:b].tolist() for a, b in itertools.pairwise(src_off)] == loop
    framed = [[vocab.sos_id, *ids, vocab.eos_id] for ids in loop]
    assert [tgt[a:b].tolist() for a, b in itertools.pairwise(tgt_off)] == framed
    assert [pipe.encode_source(t) for t in kept] == loop


def test_a_special_written_in_the_text_is_unk_on_the_lowering_path() -> None:
    tok = WhitespaceTokenizer(lower=True)
    vocab = Vocab(["x"])
    pipe = PairPipeline(tok, tok, vocab, vocab)
    (src, _), _ = pipe.encode_flat(["<EOS> x <eos>"], ["x"], num_threads=1)
    assert src.tolist() == [vocab.unk_id, vocab["x"], vocab.unk_id]


@settings(max_examples=100, deadline=None)
@given(
    seen=texts_strategy,
    texts=texts_strategy,
    vocab_texts=texts_strategy,
    limit=st.sampled_from([0, 2, 1 << 20]),
    path=probe_paths,
)
def test_remembered_cased_forms_keep_the_python_ids(
    seen: list[str], texts: list[str], vocab_texts: list[str], limit: int, path: tuple[int, int]
) -> None:
    # the forms lowered for earlier chunks (up to `limit` of them) are looked up directly later
    tok = WhitespaceTokenizer(lower=True)
    vocab = Vocab.build([[*t.split(), *tok(t)] for t in vocab_texts])
    pieces = [flat_pieces(tok, pl.Series(batch, dtype=pl.String)) for batch in (seen, texts)]
    value_set, fixed_set = (_value_set({}, list(vocab.tokens), " ", f) for f in (0, 1))
    forms = TokenLookup(value_set, vocab.unk_id, fixed_set, len(vocab) + limit)
    with pytest.MonkeyPatch.context() as patch:
        forced(patch, path)
        forms.lookup(pieces[0].pieces)
        ids, offsets = drop_empty(forms.lookup(pieces[1].pieces), pieces[1])
    w2i = dict(zip(vocab.tokens, range(len(vocab)), strict=True))  # no special masking here
    loop = [[w2i.get(w, vocab.unk_id) for w in line.lower().split()] for line in texts]
    assert [ids[a:b].tolist() for a, b in itertools.pairwise(offsets)] == loop
    assert forms._known is not None and len(forms._known) <= len(vocab) + limit


@settings(max_examples=100, deadline=None)
@given(
    tokens=st.lists(st.text(alphabet="abAB é", max_size=4), max_size=30),
    vocab_tokens=st.lists(st.text(alphabet="abAB é", min_size=1, max_size=4), unique=True),
    path=probe_paths,
)
def test_the_exact_lookup_is_a_dict_lookup_on_every_probe_path(
    tokens: list[str], vocab_tokens: list[str], path: tuple[int, int]
) -> None:
    value_set = pa.array(vocab_tokens, pa.large_string())
    with pytest.MonkeyPatch.context() as patch:
        forced(patch, path)
        ids = TokenLookup(value_set, unk=-7).lookup(pa.array(tokens, pa.large_string()))
    w2i = {t: i for i, t in enumerate(vocab_tokens)}
    assert ids.tolist() == [w2i.get(t, -7) for t in tokens]


@settings(max_examples=100, deadline=None)
@given(
    start=st.lists(st.text(alphabet="abé", min_size=1, max_size=3), unique=True, max_size=8),
    adds=st.lists(st.lists(st.text(alphabet="abé", max_size=3), max_size=6), max_size=4),
    probes=st.lists(st.text(alphabet="abé", max_size=3), max_size=20),
    limit=st.integers(0, 12),
    paths=st.lists(probe_paths, min_size=5, max_size=5),
)
def test_form_ids_added_in_steps_equal_one_dict_whichever_path_probes(
    start: list[str],
    adds: list[list[str]],
    probes: list[str],
    limit: int,
    paths: list[tuple[int, int]],
) -> None:
    # `add` keeps the first id of a form and stops at `limit` forms; a probe on any path
    # (`index_in` over the chunks joined, the polars mapping, one rebuilt) sees every form
    # added before it
    forms = FormIds(pa.array(start, pa.large_string()), np.arange(len(start), dtype=np.int32))
    model = {form: i for i, form in enumerate(start)}
    tokens = pa.array(probes, pa.large_string())
    for step, (batch, path) in enumerate(zip([*adds, []], paths, strict=False)):
        with pytest.MonkeyPatch.context() as patch:
            forced(patch, path)
            assert forms.probe(tokens).tolist() == [model.get(t, -1) for t in probes]
            ids = np.arange(len(batch), dtype=np.int32) + 100 * (step + 1)
            forms.add(pa.array(batch, pa.large_string()), ids, limit)
        for form, i in zip(batch, ids.tolist(), strict=True):
            if form not in model and len(model) < limit:
                model[form] = i
        assert len(forms) == len(model)
    copy = pickle.loads(pickle.dumps(forms))  # a new polars mapping, built from the forms
    assert copy.probe(tokens).tolist() == forms.probe(tokens).tolist()
    assert len(copy) == len(forms)


def test_unknown_tokens_do_not_grow_the_mapping_without_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # every distinct token probed takes a slot; past 2 F + _SPARE the mapping is rebuilt
    monkeypatch.setattr(lookup_module, "_SPARE", 50)
    monkeypatch.setattr(lookup_module, "_INDEX_IN_FACTOR", 10**9)
    forms = FormIds(pa.array(["a", "b"], pa.large_string()), np.array([7, 8], dtype=np.int32))
    for start in range(0, 1000, 20):
        unknown = [f"u{i}" for i in range(start, start + 20)]
        ids = forms.probe(pa.array(["b", *unknown, "a"], pa.large_string()))
        assert ids.tolist() == [8, *[-1] * 20, 7]
        assert forms._mapping is not None
        assert len(list(forms._mapping.dtype.categories)) <= 2 * 2 + 50 + 20
