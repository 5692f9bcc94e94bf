"""The training loop, evaluation, exact match and checkpoints."""

from __future__ import annotations

import json
import os

import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence

from seqdata.collate import Batch
from seqdata.errors import CheckpointError, ConfigError
from seqdata.models import CharLM, Seq2Seq, SequenceClassifier, SequenceTagger
from seqdata.train import (
    evaluate,
    exact_match,
    fit,
    load_checkpoint,
    load_optimizer_state,
    save_checkpoint,
)

SOS, EOS, PAD = 2, 3, 0


def make_batch(seqs: list[list[int]], tgts: list[list[int]]) -> Batch:
    return Batch(
        src=pad_sequence([torch.tensor(s) for s in seqs], batch_first=True),
        src_lengths=torch.tensor([len(s) for s in seqs]),
        tgt=pad_sequence([torch.tensor(t) for t in tgts], batch_first=True),
        tgt_lengths=torch.tensor([len(t) for t in tgts]),
        labels=torch.tensor([len(s) % 2 for s in seqs]),
    )


def reverse_batches(n_batches: int, seed: int = 0, size: int = 16) -> list[Batch]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_batches):
        seqs = [
            torch.randint(4, 12, (int(k),), generator=g).tolist()
            for k in torch.randint(2, 7, (size,), generator=g)
        ]
        out.append(make_batch(seqs, [[SOS, *s[::-1], EOS] for s in seqs]))
    return out


class Loader:
    """An iterable of batches with a batch sampler, as a DataLoader has."""

    class Sampler:
        def __init__(self) -> None:
            self.epochs: list[int] = []

        def set_epoch(self, epoch: int) -> None:
            self.epochs.append(epoch)

    def __init__(self, batches: list[Batch]) -> None:
        self.batches = batches
        self.batch_sampler = self.Sampler()
        self.dataset = list(range(sum(len(b) for b in batches)))

    def __iter__(self):
        return iter(self.batches)


# ---------------------------------------------------------------- fit / evaluate


def test_fit_trains_records_history_and_calls_set_epoch():
    torch.manual_seed(0)
    model = Seq2Seq.build(12, 12, embed_dim=16, hidden_size=32)
    loader, valid = Loader(reverse_batches(6)), reverse_batches(2, seed=1)
    history = fit(model, loader, epochs=5, lr=1e-2, valid_loader=valid)
    assert [s.epoch for s in history] == [0, 1, 2, 3, 4]
    assert loader.batch_sampler.epochs == [0, 1, 2, 3, 4]
    assert history[-1].train_loss < 0.8 * history[0].train_loss
    assert history[-1].valid_loss is not None and history[-1].valid_loss < history[0].valid_loss
    tokens = sum(int(b.src_lengths.sum() + b.tgt_lengths.sum()) for b in loader.batches)
    for s in history:
        assert s.tokens_per_s == pytest.approx(tokens / s.seconds)
        assert s.samples_per_s == pytest.approx(96 / s.seconds)


def test_on_epoch_end_can_stop_training():
    model = SequenceClassifier(12, 8, 8, num_classes=2)
    seen = []
    history = fit(
        model, reverse_batches(2), epochs=10, on_epoch_end=lambda s: seen.append(s) or s.epoch == 1
    )
    assert len(history) == 2 and [s.epoch for s in seen] == [0, 1]


def test_progress_bar_shows_samples_per_second_and_loss(capsys):
    model = SequenceTagger(12, 8, 8, num_tags=12)
    batches = [Batch(b.src, b.src_lengths, tgt=b.src) for b in reverse_batches(12)]
    fit(model, Loader(batches), epochs=1, progress=True)
    err = capsys.readouterr().err
    assert "sample/s" in err and "loss=" in err and "192/192" in err
    fit(model, Loader(batches), epochs=1, progress=False)
    assert capsys.readouterr().err == ""


def test_gradients_are_clipped_by_global_norm():
    torch.manual_seed(1)
    batch = reverse_batches(1)
    for clip, bound in [(1e-3, 1e-3 * 1.001), (None, None)]:
        model = Seq2Seq.build(12, 12, embed_dim=8, hidden_size=8)
        before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
        fit(
            model,
            batch,
            epochs=1,
            optimizer=torch.optim.SGD(model.parameters(), lr=1.0),
            clip_norm=clip,
        )
        after = torch.cat([p.detach().flatten() for p in model.parameters()])
        step = float((after - before).norm())  # SGD with lr=1: the step is the gradient
        if bound is not None:
            assert step <= bound
        else:
            assert step > 100 * 1e-3  # the unclipped gradient is far larger
    with pytest.raises(ConfigError, match=r"clip_norm should be a finite number > 0"):
        fit(model, batch, epochs=1, clip_norm=0.0)
    with pytest.raises(ConfigError, match=r"epochs should be a positive integer"):
        fit(model, batch, epochs=0)


def test_evaluate_is_the_mean_over_every_target_token():
    model = Seq2Seq.build(12, 12, embed_dim=8, hidden_size=8)
    batches = reverse_batches(3, size=5)
    total, count = 0.0, 0
    with torch.no_grad():
        for b in batches:
            logits = model(b)
            gold = b.tgt[:, 1:]
            total += float(
                F.cross_entropy(
                    logits.flatten(0, 1), gold.flatten(), reduction="sum", ignore_index=PAD
                )
            )
            count += int((gold != PAD).sum())
    assert evaluate(model, batches) == pytest.approx(total / count, rel=1e-5)
    assert model.training  # evaluate restores the mode


def test_exact_match_compares_ids_up_to_eos():
    torch.manual_seed(2)
    model = Seq2Seq.build(12, 12, embed_dim=8, hidden_size=8).eval()
    with torch.no_grad():
        model.decoder.out.bias[EOS] += 2.0  # stops within a few steps
    seqs = [torch.randint(4, 12, (int(k),)).tolist() for k in torch.randint(2, 7, (20,))]
    src = make_batch(seqs, [[SOS, EOS]] * 20)
    ids, lengths = model.greedy_decode(src.src, src.src_lengths, max_len=10)
    assert (lengths < 10).all(), "every row should reach EOS for this check"
    own = [[SOS, *ids[b, : lengths[b]].tolist()] for b in range(20)]  # ends with EOS
    assert exact_match(model, [make_batch(seqs, own)]) == 1.0
    wrong = [t if b % 2 else [SOS, 4 if t[1] != 4 else 5, *t[2:]] for b, t in enumerate(own)]
    assert exact_match(model, [make_batch(seqs, wrong)]) == 0.5
    longer = [[*t[:-1], 4, EOS] for t in own]  # the model stops one token too early
    assert exact_match(model, [make_batch(seqs, longer)]) == 0.0


# ---------------------------------------------------------------- checkpoints


def _models():
    return [
        Seq2Seq.build(12, 13, embed_dim=8, hidden_size=8, cell="lstm", num_layers=2),
        SequenceClassifier(12, 8, 8, num_classes=3, bidirectional=True),
        SequenceTagger(12, 8, 8, num_tags=5, cell="rnn"),
        CharLM(12, 8, 8, cell="gru", num_layers=2),
    ]


def _outputs(model, batch):
    with torch.no_grad():
        if isinstance(model, Seq2Seq):
            return model(batch)
        if isinstance(model, CharLM):
            return model(batch.src)[0]
        return model(batch.src, batch.src_lengths)


@pytest.mark.parametrize("model", _models(), ids=lambda m: type(m).__name__)
def test_checkpoint_round_trip_rebuilds_every_model(tmp_path, model):
    model.eval()
    batch = reverse_batches(1, size=4)[0]
    path = save_checkpoint(tmp_path / "ckpt", model, extra={"epoch": 3, "bleu": 12.5})
    loaded, pipeline, extra = load_checkpoint(path)
    assert type(loaded) is type(model) and loaded.config == model.config
    assert pipeline is None and extra == {"epoch": 3, "bleu": 12.5}
    assert not loaded.training
    torch.testing.assert_close(_outputs(loaded, batch), _outputs(model, batch))
    state = torch.load(path / "model.pt", weights_only=True)  # plain tensors only
    assert state.keys() == model.state_dict().keys()
    config = json.loads((path / "config.json").read_text())
    assert config["model"]["class"] == type(model).__name__


def test_optimizer_state_round_trip(tmp_path):
    model = Seq2Seq.build(12, 12, embed_dim=8, hidden_size=8)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    fit(model, reverse_batches(2), epochs=1, optimizer=opt)
    save_checkpoint(tmp_path / "c", model, optimizer=opt)
    loaded = load_checkpoint(tmp_path / "c").model
    new_opt = torch.optim.Adam(loaded.parameters(), lr=1e-3)
    load_optimizer_state(tmp_path / "c", new_opt)
    a, b = opt.state_dict()["state"], new_opt.state_dict()["state"]
    assert a.keys() == b.keys() and all(torch.equal(a[k]["exp_avg"], b[k]["exp_avg"]) for k in a)
    save_checkpoint(tmp_path / "no_opt", model)
    with pytest.raises(CheckpointError, match=r"no_opt: has no optimizer state"):
        load_optimizer_state(tmp_path / "no_opt", new_opt)


def test_saving_over_a_checkpoint_replaces_it_atomically(tmp_path):
    first, second = CharLM(12, 8, 8), CharLM(12, 8, 8)
    save_checkpoint(tmp_path / "c", first, extra={"n": 1})
    save_checkpoint(tmp_path / "c", second, extra={"n": 2})
    loaded, _, extra = load_checkpoint(tmp_path / "c")
    assert extra == {"n": 2}
    torch.testing.assert_close(loaded.out.weight, second.out.weight)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]  # no temp dirs left behind
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "c").stat().st_mode & 0o777 == 0o777 & ~umask  # not mkdtemp's 0700


def test_save_refuses_other_directories_and_non_json_extra(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "corpus.txt").write_text("keep me")
    with pytest.raises(CheckpointError, match=r"data: exists and is not a seqdata checkpoint"):
        save_checkpoint(tmp_path / "data", CharLM(12, 8, 8))
    assert (tmp_path / "data" / "corpus.txt").read_text() == "keep me"
    with pytest.raises(ConfigError, match=r"JSON-serialisable"):
        save_checkpoint(tmp_path / "c", CharLM(12, 8, 8), extra={"when": object()})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # nothing half-written
    with pytest.raises(ConfigError, match=r"should be one of seqdata's models"):
        save_checkpoint(tmp_path / "c", torch.nn.Linear(2, 2))


def test_damaged_checkpoints_raise_checkpoint_error_naming_the_file(tmp_path):
    path = save_checkpoint(tmp_path / "c", CharLM(12, 8, 8))
    weights = (path / "model.pt").read_bytes()
    (path / "model.pt").write_bytes(weights[: len(weights) // 2])
    with pytest.raises(CheckpointError, match=r"model\.pt: corrupted"):
        load_checkpoint(path)
    (path / "model.pt").unlink()
    with pytest.raises(CheckpointError, match=r"model\.pt: missing"):
        load_checkpoint(path)
    (path / "config.json").write_text('{"format": "seqdata.checkpoint", "vers')
    with pytest.raises(CheckpointError, match=r"config\.json: corrupted, not valid JSON"):
        load_checkpoint(path)
    (path / "config.json").write_text(json.dumps({"format": "seqdata.checkpoint", "version": 99}))
    with pytest.raises(CheckpointError, match=r"version 99"):
        load_checkpoint(path)
    (path / "config.json").unlink()
    with pytest.raises(CheckpointError, match=r"config\.json: missing"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match=r"nowhere: no checkpoint directory"):
        load_checkpoint(tmp_path / "nowhere")


def test_weights_that_do_not_fit_the_config_are_reported(tmp_path):
    path = save_checkpoint(tmp_path / "c", CharLM(12, 8, 8))
    config = json.loads((path / "config.json").read_text())
    config["model"]["config"]["hidden_size"] = 9
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"model\.pt: weights do not fit"):
        load_checkpoint(path)


def test_finish_interrupted_save_restores_the_last_good_checkpoint(tmp_path):
    from seqdata.checkpoint import finish_interrupted_save

    old, new = CharLM(12, 8, 8), CharLM(12, 8, 8)
    save_checkpoint(tmp_path / "last", old, extra={"n": 1})
    # killed between the renames: only .last.prev, and a temp dir of the unfinished write
    (tmp_path / "last").rename(tmp_path / ".last.prev")
    (tmp_path / ".last.abc123.tmp").mkdir()
    (tmp_path / "notes.txt").write_text("keep me")
    assert load_checkpoint(tmp_path).extra == {"n": 1}  # readable before the repair
    assert finish_interrupted_save(tmp_path / "last") == tmp_path / "last"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last", "notes.txt"]
    assert load_checkpoint(tmp_path / "last").extra == {"n": 1}
    # killed after the renames, before the old one was deleted: the new one stays
    save_checkpoint(tmp_path / "last", new, extra={"n": 2})
    save_checkpoint(tmp_path / "prev-copy", old, extra={"n": 1})
    (tmp_path / "prev-copy").rename(tmp_path / ".last.prev")
    finish_interrupted_save(tmp_path / "last")
    assert not (tmp_path / ".last.prev").exists()
    assert load_checkpoint(tmp_path / "last").extra == {"n": 2}
    # nothing to finish: nothing changes
    assert finish_interrupted_save(tmp_path / "best") is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last", "notes.txt"]


@pytest.mark.parametrize(
    "before",
    [
        "",
        '{"a": 1}\n',
        '{"a": 1}\n{"b": 2',  # killed in the middle of a write
        '{"b": 2',
        '{"a": 1}\n{"long": "' + "x" * 10_000,  # a partial line longer than a block
        '{"a": "' + "y" * 5_000 + '"}\n{"b"',
    ],
)
def test_metrics_log_cuts_a_half_written_line_before_appending(tmp_path, before):
    from seqdata.runlog import MetricsLog

    path = tmp_path / "metrics.jsonl"
    path.write_text(before, encoding="utf-8")
    log = MetricsLog(path)
    log.write({"step": 1, "loss": float("nan")})
    log.write({"step": 2})
    lines = before.splitlines(keepends=True)
    complete = [json.loads(line) for line in lines if line.endswith("\n")]
    assert log.read() == [*complete, {"loss": None, "step": 1}, {"step": 2}]
