"""Reference RNN/LSTM/GRU models that consume seqdata's batches, each short enough to read.

- [`Encoder`][seqdata.models.Encoder] / [`Decoder`][seqdata.models.Decoder] /
  [`Seq2Seq`][seqdata.models.Seq2Seq]: the packed encoder-decoder (NMT).
- [`SequenceClassifier`][seqdata.models.SequenceClassifier]: many-to-one (last hidden state →
  linear).
- [`SequenceTagger`][seqdata.models.SequenceTagger]: many-to-many (every hidden state → linear).
- [`CharLM`][seqdata.models.CharLM]: the character-level language model, trained with truncated BPTT
  ([`lm`][seqdata.lm]).
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
