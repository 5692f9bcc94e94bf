"""seqdata: raw text to GPU-ready batches for recurrent sequence models.

Stages (each usable alone or chained): tokenize → index → frame → bucket → collate → pack,
plus reference RNN/LSTM/GRU models that consume the batches.
"""

from seqdata.collate import Batch, pack, unpack
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

__version__ = "0.1.0"

__all__ = [
    "Batch",
    "CheckpointError",
    "ConfigError",
    "CorpusError",
    "EmptyCorpusError",
    "EmptyLineError",
    "InputTypeError",
    "ManifestError",
    "ParallelMismatchError",
    "SeqdataError",
    "SequenceTooLongError",
    "ShapeError",
    "SpecialTokenError",
    "StateDictError",
    "TokenizerError",
    "UndecodableInputError",
    "VocabFormatError",
    "pack",
    "unpack",
]
