"""seqdata: raw text to GPU-ready batches for recurrent sequence models.

Stages (each usable alone or chained): tokenize → index → frame → bucket → collate → pack,
plus reference RNN/LSTM/GRU models that consume the batches.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from seqdata.collate import Batch, PadCollate, pack, unpack
    from seqdata.corpus import MonoCorpus, ParallelCorpus
    from seqdata.counts import TokenCounts
    from seqdata.distributed import init_distributed
    from seqdata.errors import (
        CheckpointError,
        ConfigError,
        CorpusError,
        EmptyCorpusError,
        EmptyLineError,
        InputTypeError,
        ManifestError,
        ParallelMismatchError,
        SeqdataError,
        SequenceTooLongError,
        ShapeError,
        SpecialTokenError,
        StateDictError,
        TokenizerError,
        UndecodableInputError,
        VocabFormatError,
    )
    from seqdata.framing import frame_source, frame_source_batch, frame_target, frame_target_batch
    from seqdata.hf import hf_lengths
    from seqdata.metrics import Score, corpus_bleu, corpus_chrf, perplexity
    from seqdata.pipeline import EncodedPairs, PairPipeline
    from seqdata.ragged import Ragged
    from seqdata.readers import iter_pair_chunks, iter_parallel_chunks, read_pairs, read_parallel
    from seqdata.samplers import BucketBatchSampler, TokenBudgetBatchSampler
    from seqdata.sentencepiece import SentencePieceTokenizer
    from seqdata.stats import PaddingStats, padding_stats
    from seqdata.storage import ParallelCorpusWriter, WriteStats
    from seqdata.streaming import StreamingBucketer
    from seqdata.text_pipeline import TextPipeline
    from seqdata.texts import Tokenizer
    from seqdata.tokenizers import (
        CharTokenizer,
        WhitespaceTokenizer,
        make_tokenizer,
        tokenizer_from_dict,
    )
    from seqdata.translation import translate
    from seqdata.vocab import Vocab
    from seqdata.words import WordTokenizer

__version__ = "0.1.0"

__all__ = [
    "Batch",
    "BucketBatchSampler",
    "CharTokenizer",
    "CheckpointError",
    "ConfigError",
    "CorpusError",
    "EmptyCorpusError",
    "EmptyLineError",
    "EncodedPairs",
    "InputTypeError",
    "ManifestError",
    "MonoCorpus",
    "PadCollate",
    "PaddingStats",
    "PairPipeline",
    "ParallelCorpus",
    "ParallelCorpusWriter",
    "ParallelMismatchError",
    "Ragged",
    "Score",
    "SentencePieceTokenizer",
    "SeqdataError",
    "SequenceTooLongError",
    "ShapeError",
    "SpecialTokenError",
    "StateDictError",
    "StreamingBucketer",
    "TextPipeline",
    "TokenBudgetBatchSampler",
    "TokenCounts",
    "Tokenizer",
    "TokenizerError",
    "UndecodableInputError",
    "Vocab",
    "VocabFormatError",
    "WhitespaceTokenizer",
    "WordTokenizer",
    "WriteStats",
    "corpus_bleu",
    "corpus_chrf",
    "frame_source",
    "frame_source_batch",
    "frame_target",
    "frame_target_batch",
    "hf_lengths",
    "init_distributed",
    "iter_pair_chunks",
    "iter_parallel_chunks",
    "make_tokenizer",
    "pack",
    "padding_stats",
    "perplexity",
    "read_pairs",
    "read_parallel",
    "tokenizer_from_dict",
    "translate",
    "unpack",
]

_EXPORTS: dict[str, str] = {
    "Batch": "seqdata.collate",
    "BucketBatchSampler": "seqdata.samplers",
    "CharTokenizer": "seqdata.tokenizers",
    "CheckpointError": "seqdata.errors",
    "ConfigError": "seqdata.errors",
    "CorpusError": "seqdata.errors",
    "EmptyCorpusError": "seqdata.errors",
    "EmptyLineError": "seqdata.errors",
    "EncodedPairs": "seqdata.pipeline",
    "InputTypeError": "seqdata.errors",
    "ManifestError": "seqdata.errors",
    "MonoCorpus": "seqdata.corpus",
    "PadCollate": "seqdata.collate",
    "PaddingStats": "seqdata.stats",
    "PairPipeline": "seqdata.pipeline",
    "ParallelCorpus": "seqdata.corpus",
    "ParallelCorpusWriter": "seqdata.storage",
    "ParallelMismatchError": "seqdata.errors",
    "Ragged": "seqdata.ragged",
    "Score": "seqdata.metrics",
    "SentencePieceTokenizer": "seqdata.sentencepiece",
    "SeqdataError": "seqdata.errors",
    "SequenceTooLongError": "seqdata.errors",
    "ShapeError": "seqdata.errors",
    "SpecialTokenError": "seqdata.errors",
    "StateDictError": "seqdata.errors",
    "StreamingBucketer": "seqdata.streaming",
    "TextPipeline": "seqdata.text_pipeline",
    "TokenBudgetBatchSampler": "seqdata.samplers",
    "TokenCounts": "seqdata.counts",
    "Tokenizer": "seqdata.texts",
    "TokenizerError": "seqdata.errors",
    "UndecodableInputError": "seqdata.errors",
    "Vocab": "seqdata.vocab",
    "VocabFormatError": "seqdata.errors",
    "WhitespaceTokenizer": "seqdata.tokenizers",
    "WordTokenizer": "seqdata.words",
    "WriteStats": "seqdata.storage",
    "corpus_bleu": "seqdata.metrics",
    "corpus_chrf": "seqdata.metrics",
    "frame_source": "seqdata.framing",
    "frame_source_batch": "seqdata.framing",
    "frame_target": "seqdata.framing",
    "frame_target_batch": "seqdata.framing",
    "hf_lengths": "seqdata.hf",
    "init_distributed": "seqdata.distributed",
    "iter_pair_chunks": "seqdata.readers",
    "iter_parallel_chunks": "seqdata.readers",
    "make_tokenizer": "seqdata.tokenizers",
    "pack": "seqdata.collate",
    "padding_stats": "seqdata.stats",
    "perplexity": "seqdata.metrics",
    "read_pairs": "seqdata.readers",
    "read_parallel": "seqdata.readers",
    "tokenizer_from_dict": "seqdata.tokenizers",
    "translate": "seqdata.translation",
    "unpack": "seqdata.collate",
}
"""Each public name → the module that defines it; imported on first use (PEP 562), so that
``import seqdata`` and the text stages (tokenize, index, frame, store) do not load torch."""


if not TYPE_CHECKING:  # type checkers see the imports above, and no catch-all attribute

    def __getattr__(name: str) -> Any:
        module = _EXPORTS.get(name)
        if module is None:
            raise AttributeError(f"module 'seqdata' has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})
