"Training loop: papermill smoke runs per architecture, optimizers, exact resume, atomic checkpoints, divergence, bad configs."
import json, math, os, shutil
from pathlib import Path
import pytest, torch
from llmbench.core import LLMBenchError, seed_everything
from llmbench.data import prepare_data
from llmbench.models import build_model
from llmbench import train as T

TINY = dict(batch_size=4, block_size=16, eval_batches=1, device='cpu', progress=False)


@pytest.fixture(scope='module')
def data(): return prepare_data()  # the settings' default corpus, char-level, cached


def tiny_model(data, arch='gpt', dropout=0.0, seed=0):
    seed_everything(seed)
    return build_model(arch, data.vocab_size, n_layer=1, n_head=2, n_embd=16, block_size=16, dropout=dropout)


def train_losses(res): return [r['train_loss'] for r in res.history if 'train_loss' in r]


# --- papermill: every architecture, each with a different optimizer, so all four optimizers also run end to end

@pytest.mark.parametrize('arch,optimizer,extra', [
    ('gpt', 'adamw', {}),
    ('lstm', 'sgd', {'lr': 0.5, 'min_lr': 0.05}),
    ('gru', 'sgd_momentum', {'lr': 0.1, 'min_lr': 0.01, 'nesterov': True}),
    ('cnn', 'adam', {'grad_accum': 2}),
])
def test_notebook_smoke(run_nb, tmp_path, arch, optimizer, extra):
    res = run_nb('04_train', tmp_path/'run', arch=arch, optimizer=optimizer, max_steps=12, eval_interval=6, **extra)
    for k in ('val_loss', 'val_ppl', 'train_tokens_per_s', 'mfu', 'params', 'steps', 'wall_s'): assert k in res, k
    assert (res['arch'], res['optimizer'], res['steps'], res['stopped']) == (arch, optimizer, 12, 'max_steps')
    assert math.isfinite(res['val_loss']) and res['val_ppl'] == pytest.approx(math.exp(res['val_loss']))
    assert res['train_tokens_per_s'] > 0 and 0 < res['mfu'] < 1 and res['params'] > 0
    assert res['train_loss'] < res['first_train_loss'], res  # it learns something in 12 steps
    out = tmp_path/'run'/'04_train'
    lines = [json.loads(l) for l in (out/'history.jsonl').read_text().splitlines()]
    assert [l['step'] for l in lines if 'train_loss' in l] == list(range(1, 13))
    for ck in ('last', 'best'):
        assert {'config.json', 'model.safetensors', 'train_state.json', 'tokenizer.json'} <= set(os.listdir(out/'checkpoints'/ck))
        assert {'optimizer.bin', 'scheduler.bin', 'random_states_0.pkl'} <= set(os.listdir(out/'checkpoints'/ck/'accelerate'))
    assert (out/'loss.png').stat().st_size > 0
    if arch == 'gpt': assert res['learned'], res  # below the uniform loss ln(V)


# --- optimizers by direct calls

@pytest.mark.parametrize('opt,kw', [('sgd', {'lr': 0.5}), ('sgd_momentum', {'lr': 0.1}), ('sgd_momentum', {'lr': 0.1, 'nesterov': True}),
                                    ('adam', {'lr': 3e-3}), ('adamw', {'lr': 3e-3})])
def test_optimizers_train(data, opt, kw):
    m = tiny_model(data)
    res = T.train(m, data, optimizer=opt, max_steps=15, eval_interval=0, log_interval=5, warmup_steps=2, **kw, **TINY)
    losses = train_losses(res)
    assert len(losses) == 15 and all(map(math.isfinite, losses))
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5, (opt, losses)
    assert res.config['optimizer'] == opt and res.stopped == 'max_steps'


def test_weight_decay_only_on_matrices(data):
    m = tiny_model(data)
    o = T.build_optimizer(m, T.make_config(optimizer='adamw', weight_decay=0.3))
    assert isinstance(o, torch.optim.AdamW)
    assert [g['weight_decay'] for g in o.param_groups] == [0.3, 0.0]
    assert all(p.dim() >= 2 for p in o.param_groups[0]['params']) and all(p.dim() < 2 for p in o.param_groups[1]['params'])


def test_schedules_and_time_budget(data):
    c = T.make_config(lr=1.0, min_lr=0.1, warmup_steps=4, max_steps=20)
    assert [T.lr_at(i, c) for i in (0, 3)] == [0.25, 1.0]
    for kind, mid in (('constant', 1.0), ('linear', 0.55), ('cosine', 0.55)):
        ck = T.make_config(c, schedule=kind)
        assert T.lr_at(19, ck) == pytest.approx(0.1 if kind != 'constant' else 1.0)
        assert T.lr_at(4 + 15 / 2, ck) == pytest.approx(mid)
    res = T.train(tiny_model(data), data, max_steps=0, max_seconds=0.6, lr=1e-2, min_lr=1e-3, eval_interval=0, **TINY)
    assert res.stopped == 'max_seconds' and res.steps > 0
    lrs = [r['lr'] for r in res.history if 'lr' in r]
    assert lrs[-1] < 0.5 * lrs[0]  # the cosine follows the spent share of the time budget


# --- resume reproduces the uninterrupted run

def test_resume_equals_uninterrupted(data, tmp_path):
    kw = dict(max_steps=10, eval_interval=5, log_interval=3, grad_accum=2, lr=3e-3, warmup_steps=2, **TINY)
    full = T.train(tiny_model(data, dropout=0.1), data, out_dir=tmp_path/'a', **kw)
    half = T.train(tiny_model(data, dropout=0.1), data, out_dir=tmp_path/'b', callbacks=[lambda ev, rec, h: ev == 'eval' and rec['step'] == 5], **kw)
    assert (half.steps, half.stopped) == (5, 'callback')
    other = tiny_model(data, dropout=0.1, seed=123)  # different weights: the checkpoint must restore them
    rest = T.train(other, data, out_dir=tmp_path/'b', resume=True, **kw)
    assert rest.steps == 10 and len(train_losses(rest)) == 10
    assert train_losses(rest) == train_losses(full)  # exact, step for step
    assert rest.val_loss == full.val_loss
    for a, b in zip(full.history, rest.history): assert {k: v for k, v in a.items() if k != 'time_s'} == {k: v for k, v in b.items() if k != 'time_s'}
    from safetensors.torch import load_file
    wa, wb = load_file(str(tmp_path/'a/checkpoints/last/model.safetensors')), load_file(str(tmp_path/'b/checkpoints/last/model.safetensors'))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_compile_matches_eager_and_saves_plain_weights(data, tmp_path):
    "compile=True: same losses as eager (to float tolerance), checkpoints keyed like the plain module, resume works."
    from safetensors.torch import load_file
    kw = dict(max_steps=4, eval_interval=2, log_interval=2, lr=3e-3, **TINY)
    eager = T.train(tiny_model(data), data, **kw)
    comp = T.train(tiny_model(data), data, out_dir=tmp_path, compile=True, **kw)
    assert comp.config['compile'] is True
    assert train_losses(comp) == pytest.approx(train_losses(eager), rel=1e-4)
    keys = set(load_file(str(tmp_path/'checkpoints/last/model.safetensors')))
    assert keys and not any('_orig_mod' in k for k in keys) and keys <= set(tiny_model(data).state_dict())
    rest = T.train(tiny_model(data, seed=1), data, out_dir=tmp_path, resume=True, compile=True, **{**kw, 'max_steps': 6})
    assert rest.steps == 6 and len(train_losses(rest)) == 6 and train_losses(rest)[:4] == train_losses(comp)


def test_resume_errors(data, tmp_path):
    with pytest.raises(LLMBenchError, match='resume'): T.train(tiny_model(data), data, resume=True, max_steps=2, **TINY)
    with pytest.raises(LLMBenchError, match='train without resume'):
        T.train(tiny_model(data), data, out_dir=tmp_path, resume=True, max_steps=2, **TINY)


# --- checkpoints are atomic

def _acc_model(data, cfg):
    acc = T.make_accelerator(cfg)
    m = tiny_model(data); o = T.build_optimizer(m, cfg); s = T.LRSchedule(o, cfg)
    return acc, *acc.prepare(m, o, s)


def test_interrupted_checkpoint_write_keeps_previous(data, tmp_path, monkeypatch):
    cfg = T.make_config(device='cpu')
    acc, m, o, s = _acc_model(data, cfg)
    T.save_checkpoint(tmp_path/'last', m, acc, {'step': 1})
    before = {k: v.clone() for k, v in m.state_dict().items()}
    with torch.no_grad():
        for p in m.parameters(): p.add_(1.0)

    def crash(*a, **k):
        Path(a[0], 'optimizer.bin').parent.mkdir(parents=True, exist_ok=True)
        Path(a[0], 'optimizer.bin').write_bytes(b'partial')  # a half-written file, then the process "dies"
        raise KeyboardInterrupt
    monkeypatch.setattr(acc, 'save_state', crash)
    with pytest.raises(KeyboardInterrupt): T.save_checkpoint(tmp_path/'last', m, acc, {'step': 2})
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ['last']  # no temporary folder left behind
    assert T.load_checkpoint(tmp_path/'last', m, acc) == {'step': 1}
    assert all(torch.equal(v, before[k]) for k, v in m.state_dict().items())
    # a crash between the two renames of the swap leaves `.last.prev`: still found and loadable
    os.replace(tmp_path/'last', tmp_path/'.last.prev')
    assert T.checkpoint_dir(tmp_path/'last') == tmp_path/'.last.prev'
    assert T.load_checkpoint(tmp_path/'last', m, acc) == {'step': 1}
    acc.free_memory()


# --- a non-finite loss stops the run, naming the step, and keeps the last good checkpoint

class NaNAfter(torch.nn.Module):
    "Wraps a model; its training forward returns NaN logits from call `at` on."
    def __init__(self, m, at): super().__init__(); self.m, self.at, self.calls = m, at, 0
    def forward(self, x, **kw):
        out = self.m(x, **kw)
        if self.training:
            self.calls += 1
            if self.calls >= self.at: out.logits = out.logits * float('nan')
        return out
    def save_pretrained(self, d, **kw): kw.pop('state_dict', None); self.m.save_pretrained(d, **kw)


def test_nonfinite_loss_stops_and_keeps_checkpoint(data, tmp_path, monkeypatch):
    monkeypatch.setattr(T, '_model_info', lambda model, bs: (1, 1.0))
    m = NaNAfter(tiny_model(data), at=13)
    with pytest.raises(T.TrainingDiverged, match='step 13: non-finite loss') as e:
        T.train(m, data, out_dir=tmp_path, max_steps=40, eval_interval=5, log_interval=4, **TINY)
    assert e.value.step == 13 and 'step 10' in str(e.value) and e.value.checkpoint == tmp_path/'checkpoints'/'last'
    st = json.loads((tmp_path/'checkpoints/last/train_state.json').read_text())
    assert st['step'] == 10 and all(math.isfinite(r.get('train_loss', 0)) for r in st['history'])
    from safetensors.torch import load_file
    w = load_file(str(tmp_path/'checkpoints/last/model.safetensors'))
    assert all(torch.isfinite(v).all() for v in w.values())
    lines = (tmp_path/'history.jsonl').read_text().splitlines()
    assert max(json.loads(l)['step'] for l in lines) < 13  # nothing past the divergence was logged as good
    res = T.train(NaNAfter(tiny_model(data), at=3), data, max_steps=10, eval_interval=0, log_interval=2, on_nonfinite='stop', **TINY)
    assert res.stopped == 'non-finite at step 3' and math.isnan(res.val_loss)


# --- invalid configs fail naming the field

@pytest.mark.parametrize('kw,field', [
    (dict(optimizer='lamb'), 'optimizer'), (dict(lr=0), 'lr'), (dict(lr=-1e-3), 'lr'), (dict(lr=float('inf')), 'lr'),
    (dict(min_lr=1.0, lr=0.1), 'min_lr'), (dict(batch_size=0), 'batch_size'), (dict(max_steps=-1), 'max_steps'),
    (dict(max_steps=0), 'max_steps'), (dict(warmup_steps=1.5), 'warmup_steps'), (dict(beta1=1.0), 'beta1'),
    (dict(momentum=-0.1), 'momentum'), (dict(weight_decay=-1), 'weight_decay'), (dict(grad_clip=-1), 'grad_clip'),
    (dict(schedule='step'), 'schedule'), (dict(grad_accum=0), 'grad_accum'), (dict(eval_batches=0), 'eval_batches'),
    (dict(nesterov=True, optimizer='adam'), 'nesterov'), (dict(mixed_precision='fp8'), 'mixed_precision'),
    (dict(learning_rate=0.1), 'learning_rate'), (dict(block_size=0), 'block_size'), (dict(compile='yes'), 'compile'),
])
def test_invalid_config_names_field(kw, field):
    with pytest.raises(LLMBenchError, match=rf'training config {field}='): T.make_config(**kw)


def test_invalid_runtime_settings(data):
    with pytest.raises(LLMBenchError, match='mixed_precision='): T.train(tiny_model(data), data, mixed_precision='fp16', max_steps=1, **TINY)
    with pytest.raises(LLMBenchError, match='block_size'):
        T.train(tiny_model(data, arch='lstm'), data, max_steps=1, **{**TINY, 'block_size': None})
    with pytest.raises(LLMBenchError, match='trackers='): T.train(tiny_model(data), data, trackers='tensorboard', max_steps=1, **TINY)


# --- trackers and evaluation

def test_tensorboard_tracker(data, tmp_path):
    pytest.importorskip('tensorboard')
    T.train(tiny_model(data), data, out_dir=tmp_path, trackers='tensorboard', max_steps=4, log_interval=2, eval_interval=2, **TINY)
    assert list(tmp_path.rglob('events.out.tfevents.*'))


def test_evaluate_loss_covers_split(data):
    m = tiny_model(data)
    full = T.evaluate_loss(m, data, 'val', 32, 16)
    tot, n = 0.0, 0
    with torch.no_grad():
        for x, y in data.iter_eval('val', 32, 16):
            tot += T.lm_loss(m(x).logits, shift_labels=y, reduction='sum').item(); n += int((y != -100).sum())
    assert n == data.n_tokens('val') - 1 and full == pytest.approx(tot / n, rel=1e-6)
    assert T.evaluate_loss(m, data, 'val', 4, 16, max_batches=2) == T.evaluate_loss(m, data, 'val', 4, 16, max_batches=2)


def test_grad_accum_matches_larger_batch(data):
    "Two micro-batches of 4 give the same updates as one batch of 8 (same windows, equal token counts)."
    def losses(**kw):
        m = tiny_model(data)
        return train_losses(T.train(m, data, max_steps=5, eval_interval=0, log_interval=5, **{**TINY, **kw}))
    a, b = losses(batch_size=8, grad_accum=1), losses(batch_size=4, grad_accum=2)
    assert a == pytest.approx(b, rel=1e-5) and len(a) == 5


# --- clipping and the optimizer step

def test_clipped_step_moves_by_max_norm(data):
    "As `train` steps: Accelerate's clip returns the norm before clipping, and plain SGD (lr 1) moves by max_norm."
    cfg = T.make_config(optimizer='sgd', lr=1.0, weight_decay=0.0, device='cpu')
    acc = T.make_accelerator(cfg)
    m = tiny_model(data).double()
    opt = acc.prepare(T.build_optimizer(m, cfg))
    before = torch.cat([p.detach().flatten().clone() for p in m.parameters()])
    x = data.get_batch('train', 4, 16, generator=torch.Generator().manual_seed(0))[0]
    m(x, labels=x).loss.backward()
    grad_norm = torch.cat([p.grad.flatten() for p in m.parameters()]).norm()
    gn = acc.clip_grad_norm_(list(m.parameters()), 0.01); opt.step()
    after = torch.cat([p.detach().flatten() for p in m.parameters()])
    assert gn.item() == pytest.approx(grad_norm.item(), rel=1e-12) and gn.item() > 0.01  # the norm before clipping
    assert (after - before).norm().item() == pytest.approx(0.01, rel=1e-6)  # the update is the clipped gradient


def test_training_clips(data):
    "grad_clip bounds every update: with SGD at lr 1 and grad_clip 0.01 no parameter moves more than 0.01 a step."
    m = tiny_model(data)
    before = torch.cat([p.detach().flatten().clone() for p in m.parameters()])
    r = T.train(m, data, max_steps=3, optimizer='sgd', lr=1.0, weight_decay=0.0, warmup_steps=0, schedule='constant',
                grad_clip=0.01, eval_interval=0, log_interval=1, **TINY)
    after = torch.cat([p.detach().flatten() for p in m.parameters()])
    assert (after - before).norm().item() <= 3 * 0.01 + 1e-6
    assert all(h['grad_norm'] > 0.01 for h in r.history if 'grad_norm' in h)  # the norms before clipping


# --- a rerun never destroys a run (issue 12)

@pytest.fixture(scope='module')
def trained(data, tmp_path_factory):
    "A 4-step run with checkpoints/{best,last}, copied by each test that damages it."
    out = tmp_path_factory.mktemp('trained')
    T.train(tiny_model(data), data, out_dir=out, max_steps=4, eval_interval=2, log_interval=2, **TINY)
    return out


def _copy(src, dst): shutil.copytree(src, dst); return dst


@pytest.mark.parametrize('what', ['model.safetensors', 'config.json', 'train_state.json', 'accelerate/optimizer.bin',
                                  'accelerate/scheduler.bin', 'accelerate/random_states_0.pkl',
                                  'accelerate/data_generator_0.safetensors'])
def test_resume_from_a_damaged_checkpoint_names_the_file_and_the_other(data, trained, tmp_path, what):
    out = _copy(trained, tmp_path/'run')
    f = out/'checkpoints'/'last'/what
    if f.suffix == '.json': f.write_text(f.read_text()[:20])
    else: os.truncate(f, min(100, f.stat().st_size // 2))
    with pytest.raises(LLMBenchError) as e:
        T.train(tiny_model(data), data, out_dir=out, resume=True, max_steps=6, eval_interval=2, log_interval=2, **TINY)
    msg = str(e.value)
    assert f'{f}: damaged' in msg and f"resume='{out/'checkpoints'/'best'}'" in msg, msg
    res = T.train(tiny_model(data), data, out_dir=out, resume=out/'checkpoints'/'best', max_steps=6, eval_interval=2,
                  log_interval=2, **TINY)  # the intact one resumes
    assert res.steps == 6


def test_resume_with_max_steps_not_above_the_checkpoint_is_refused(data, trained, tmp_path):
    out = _copy(trained, tmp_path/'run')
    hist, state = (out/'history.jsonl').read_text(), (out/'checkpoints'/'last'/'train_state.json').read_text()
    for m in (3, 4):
        with pytest.raises(LLMBenchError, match=rf"checkpoint {out/'checkpoints'/'last'} is at step 4; max_steps={m} "):
            T.train(tiny_model(data), data, out_dir=out, resume=True, max_steps=m, eval_interval=2, log_interval=2,
                    **TINY)
    assert (out/'history.jsonl').read_text() == hist  # no duplicate entry
    assert (out/'checkpoints'/'last'/'train_state.json').read_text() == state


# --- the same loop under `accelerate launch` (issue 12)

_DDP_SCRIPT = r'''
import json, sys
from pathlib import Path
from llmbench.core import seed_everything
from llmbench.data import prepare_data
from llmbench.models import build_model
from llmbench.train import train
a = json.loads(sys.argv[1]); out = Path(a['out'])
data = prepare_data()
def run(out_dir, seed=0, **kw):
    seed_everything(seed)
    m = build_model('gpt', data.vocab_size, n_layer=1, n_head=2, n_embd=16, block_size=16)
    return train(m, data, out_dir=out_dir, **{**a['kw'], **kw})
full = run(out/'full')
half = run(out/'half', callbacks=[lambda ev, rec, h: ev == 'eval' and rec['step'] == 4])
rest = run(out/'half', seed=123, resume=True)  # other initial weights: the checkpoint must restore them
if full.config and rest.steps:  # every process reaches here; the main one reports
    from accelerate import PartialState
    s = PartialState()
    if s.is_main_process:
        (out/'report.json').write_text(json.dumps({'world': s.num_processes, 'backend': str(s.backend),
            **{k: {'history': r.history, 'steps': r.steps, 'stopped': r.stopped, 'val_loss': r.val_loss}
               for k, r in (('full', full), ('half', half), ('rest', rest))}}))
'''


@pytest.mark.slow
def test_two_cpu_processes_match_one_at_the_same_global_batch(data, tmp_path):
    """`accelerate launch` with two CPU processes (gloo) and batch_size 4 each equals one process with batch_size 8:
    the same losses within 1e-4 nats (float summation order differs), one set of checkpoints, exact resume."""
    import socket, subprocess, sys
    from safetensors.torch import load_file
    kw = dict(max_steps=8, eval_interval=4, log_interval=2, lr=3e-3, block_size=16, eval_batches=2, progress=False)
    seed_everything(0)
    one = T.train(tiny_model(data), data, out_dir=tmp_path/'one', batch_size=8, device='cpu', **kw)
    script = tmp_path/'ddp_train.py'; script.write_text(_DDP_SCRIPT)
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    env = {**os.environ, 'CUDA_VISIBLE_DEVICES': '', 'OMP_NUM_THREADS': '1'}
    cmd = [sys.executable, '-m', 'accelerate.commands.launch', '--multi_gpu', '--num_processes', '2',
           '--num_machines', '1', '--mixed_precision', 'no', '--dynamo_backend', 'no', '--main_process_port', str(port),
           str(script), json.dumps({'out': str(tmp_path/'two'), 'kw': {**kw, 'batch_size': 4}})]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    rep = json.loads((tmp_path/'two'/'report.json').read_text())
    assert rep['world'] == 2 and rep['backend'] == 'gloo', rep
    two = rep['full']
    assert [h['step'] for h in two['history']] == [h['step'] for h in one.history]
    for a, b in zip(one.history, two['history']):
        for k in ('train_loss', 'val_loss', 'grad_norm'):
            if k in a: assert b[k] == pytest.approx(a[k], abs=1e-4), (a, b)
        assert a['tokens'] == b['tokens']  # 8 sequences a step either way
    assert two['val_loss'] == pytest.approx(one.val_loss, abs=1e-4)
    ck = tmp_path/'two'/'full'/'checkpoints'
    assert sorted(p.name for p in ck.iterdir()) == ['best', 'last']  # one set, no per-process copies or leftovers
    w1 = load_file(str(tmp_path/'one'/'checkpoints'/'last'/'model.safetensors'))
    w2 = load_file(str(ck/'last'/'model.safetensors'))
    assert w1.keys() == w2.keys() and all(torch.allclose(w1[k], w2[k], atol=1e-5) for k in w1)
    assert len((tmp_path/'two'/'full'/'history.jsonl').read_text().splitlines()) == len(one.history)
    assert (rep['half']['steps'], rep['half']['stopped'], rep['rest']['steps']) == (4, 'callback', 8)
    strip = lambda hs: [{k: v for k, v in h.items() if k != 'time_s'} for h in hs]
    assert strip(rep['rest']['history']) == strip(two['history'])  # resumed under two processes: exact


def test_run_outputs_follow_the_umask(data, tmp_path):
    "Checkpoints (safetensors writes 0600), history and figures: 0644 files and 0755 folders under umask 022."
    from llmbench.core import save_figure, write_results
    old = os.umask(0o022)
    try:
        r = T.train(tiny_model(data), data, out_dir=tmp_path, max_steps=2, eval_interval=1, log_interval=1, **TINY)
        write_results(tmp_path, r.summary()); save_figure(T.plot_history(r.history), tmp_path, 'loss')
    finally: os.umask(old)
    bad = {str(p.relative_to(tmp_path)): oct(p.stat().st_mode & 0o777) for p in tmp_path.rglob('*')
           if p.stat().st_mode & 0o777 != (0o755 if p.is_dir() else 0o644)}
    assert not bad, bad


def test_training_into_a_finished_run_is_refused(data, tmp_path):
    "train(out_dir=...) without resume silently replaced an earlier run's checkpoints and history (issue 12: 1)."
    T.train(tiny_model(data), data, out_dir=tmp_path, max_steps=4, eval_interval=2, log_interval=2, **TINY)
    before = (tmp_path/'checkpoints'/'best'/'model.safetensors').read_bytes()
    with pytest.raises(LLMBenchError, match='holds an earlier training run .*pass resume=True to continue it, overwrite=True'):
        T.train(tiny_model(data, seed=3), data, out_dir=tmp_path, max_steps=2, eval_interval=1, log_interval=1, **TINY)
    assert (tmp_path/'checkpoints'/'best'/'model.safetensors').read_bytes() == before  # the earlier run is intact
    r = T.train(tiny_model(data, seed=3), data, out_dir=tmp_path, overwrite=True, max_steps=2, eval_interval=1,
                log_interval=1, **TINY)
    assert r.steps == 2 and max(json.loads(l)['step'] for l in (tmp_path/'history.jsonl').read_text().splitlines()) == 2
