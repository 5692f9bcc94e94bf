"""Every reference model on CUDA: forward, backward and decoding agree with the CPU.

Skipped (with the reason) where ``torch.cuda.is_available()`` is False.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch.nn.utils.rnn import pad_sequence

from seqdata.collate import Batch
from seqdata.lm import BPTTBatcher
from seqdata.models import CharLM, Seq2Seq, SequenceClassifier, SequenceTagger
from seqdata.train import evaluate, exact_match, fit, train_bptt

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

CELLS = ["gru", "lstm", "rnn"]
TOL = {"atol": 1e-4, "rtol": 1e-4}


@pytest.fixture(autouse=True)
def _exact_cuda_math():
    # Keep cuDNN/cuBLAS from trading precision for speed, so CPU and GPU agree closely.
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def _batch(seed: int = 0, n: int = 6) -> Batch:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(2, 9, (n,), generator=g).tolist()
    src = [torch.randint(4, 14, (k,), generator=g) for k in lengths]
    tgt = [torch.cat([torch.tensor([2]), s.flip(0), torch.tensor([3])]) for s in src]
    return Batch(
        src=pad_sequence(src, batch_first=True),
        src_lengths=torch.tensor(lengths),
        tgt=pad_sequence(tgt, batch_first=True),
        tgt_lengths=torch.tensor([len(t) for t in tgt]),
        labels=torch.tensor([int(s[0]) % 3 for s in src]),
    )


def _grads(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.grad.detach().cpu() for n, p in model.named_parameters() if p.grad is not None}


def _same_loss_and_grads(cpu_model: torch.nn.Module, batch: Batch) -> None:
    gpu_model = copy.deepcopy(cpu_model).cuda()
    cpu_loss = cpu_model.loss(batch)
    gpu_loss = gpu_model.loss(batch.to("cuda"))
    assert gpu_loss.device.type == "cuda"
    torch.testing.assert_close(gpu_loss.cpu(), cpu_loss.detach(), **TOL)
    cpu_loss.backward()
    gpu_loss.backward()
    cpu_g, gpu_g = _grads(cpu_model), _grads(gpu_model)
    assert cpu_g.keys() == gpu_g.keys() and cpu_g
    for name in cpu_g:
        torch.testing.assert_close(gpu_g[name], cpu_g[name], atol=1e-4, rtol=1e-3, msg=name)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_seq2seq_on_cuda_matches_cpu(cell, bidirectional):
    model = Seq2Seq.build(
        14, 14, embed_dim=8, hidden_size=16, cell=cell, num_layers=2, bidirectional=bidirectional
    )
    batch = _batch()
    gpu = copy.deepcopy(model).cuda()
    torch.testing.assert_close(gpu(batch.to("cuda")).cpu(), model(batch).detach(), **TOL)
    # Lengths may stay on the GPU too; the model moves them to the CPU for packing.
    on_gpu = Batch(
        batch.src.cuda(), batch.src_lengths.cuda(), batch.tgt.cuda(), batch.tgt_lengths.cuda()
    )
    torch.testing.assert_close(gpu(on_gpu).cpu(), model(batch).detach(), **TOL)
    _same_loss_and_grads(model, batch)
    model.eval()
    gpu.eval()
    ids, lengths = model.greedy_decode(batch.src, batch.src_lengths, max_len=10)
    gids, glengths = gpu.greedy_decode(batch.src.cuda(), batch.src_lengths, max_len=10)
    assert gids.device.type == "cuda" and glengths.device.type == "cpu"
    assert torch.equal(gids.cpu(), ids) and torch.equal(glengths, lengths)


@pytest.mark.parametrize("cell", CELLS)
def test_classifier_and_tagger_on_cuda_match_cpu(cell):
    batch = _batch(1)
    clf = SequenceClassifier(14, 8, 16, num_classes=3, cell=cell, bidirectional=True)
    _same_loss_and_grads(clf, batch)
    tagger = SequenceTagger(14, 8, 16, num_tags=14, cell=cell, num_layers=2)
    tag_batch = Batch(src=batch.src, src_lengths=batch.src_lengths, tgt=batch.src)
    _same_loss_and_grads(tagger, tag_batch)


@pytest.mark.parametrize("cell", CELLS)
def test_char_lm_on_cuda_matches_cpu(cell):
    lm = CharLM(14, 8, 16, cell=cell, num_layers=2).eval()
    gpu = copy.deepcopy(lm).cuda()
    x = torch.randint(0, 14, (4, 12))
    logits, hidden = lm(x)
    glogits, ghidden = gpu(x.cuda())
    torch.testing.assert_close(glogits.cpu(), logits, **TOL)
    h = hidden[0] if isinstance(hidden, tuple) else hidden
    gh = ghidden[0] if isinstance(ghidden, tuple) else ghidden
    torch.testing.assert_close(gh.cpu(), h, **TOL)
    out = gpu.generate([1, 2, 3], 10, temperature=0)
    assert out.device.type == "cuda"
    assert torch.equal(out.cpu(), lm.generate([1, 2, 3], 10, temperature=0))
    batcher = BPTTBatcher(torch.randint(0, 14, (400,)), batch_size=4, bptt_len=10)
    loss = train_bptt(gpu.train(), batcher, torch.optim.Adam(gpu.parameters(), lr=1e-2))
    assert 0 < loss < 10


def test_fit_and_exact_match_on_cuda():
    torch.manual_seed(0)
    model = Seq2Seq.build(14, 14, embed_dim=16, hidden_size=32)
    train = [_batch(seed) for seed in range(8)]
    before = evaluate(model.cuda(), train)
    history = fit(model, train, epochs=5, lr=1e-2, device="cuda")
    assert next(model.parameters()).device.type == "cuda"
    assert history[-1].train_loss < history[0].train_loss
    assert evaluate(model, train) < before
    score = exact_match(model, train)
    cpu_score = exact_match(copy.deepcopy(model).cpu(), train)
    assert score == cpu_score
