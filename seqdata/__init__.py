"""seqdata: raw text to GPU-ready batches for recurrent sequence models.

Stages (each usable alone or chained): tokenize → index → frame → bucket → collate → pack,
plus reference RNN/LSTM/GRU models that consume the batches.
"""

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
