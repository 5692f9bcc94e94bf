"""Reference RNN/LSTM/GRU models that consume seqdata's batches, each short enough to read.

- :class:`Encoder` / :class:`Decoder` / :class:`Seq2Seq`: the packed encoder-decoder (NMT).
- :class:`SequenceClassifier`: many-to-one (last hidden state → linear).
- :class:`SequenceTagger`: many-to-many (every hidden state → linear).
- :class:`CharLM`: the character-level language model, trained with truncated BPTT
  (:mod:`seqdata.lm`).
"""

from seqdata.models.charlm import CharLM, CharLMConfig
from seqdata.models.classifier import SequenceClassifier, SequenceClassifierConfig
from seqdata.models.decoder import Decoder, DecoderConfig
from seqdata.models.encoder import Encoder, EncoderConfig
from seqdata.models.seq2seq import Seq2Seq, Seq2SeqConfig
from seqdata.models.tagger import SequenceTagger, SequenceTaggerConfig

__all__ = [
    "CharLM",
    "CharLMConfig",
    "Decoder",
    "DecoderConfig",
    "Encoder",
    "EncoderConfig",
    "Seq2Seq",
    "Seq2SeqConfig",
    "SequenceClassifier",
    "SequenceClassifierConfig",
    "SequenceTagger",
    "SequenceTaggerConfig",
]
