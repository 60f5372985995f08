"Architectures (llmbench.models): the one model contract, checkpoints, stock-transformers export, state for generation."
import json, math, os
import pytest, torch
from transformers import AutoModelForCausalLM, GPT2LMHeadModel
from llmbench.core import LLMBenchError
from llmbench.models import (ARCHS, build_model, build_model_near, context_length, count_params,
                             flops_per_token, load_model, receptive_field, size_near, validate_config)
from llmbench.bench import bench_model_step

TINY = dict(n_layer=2, n_head=2, n_embd=32, block_size=32)


@pytest.fixture(autouse=True)
def one_thread():
    "Tiny models are dominated by thread synchronisation; on a shared 2-core machine one thread is 10-40x faster."
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def tiny(arch, vocab_size=17, seed=0, **kw):
    torch.manual_seed(seed)
    return build_model(arch, vocab_size, **{**TINY, **kw})


@pytest.mark.parametrize('arch', ARCHS)
def test_overfits_one_batch(arch):
    "Training on a single batch drives the loss near zero: the model can learn, the loss is wired right."
    m = tiny(arch, 17).train()
    x = torch.randint(0, 17, (2, 16), generator=torch.Generator().manual_seed(1))
    opt = torch.optim.AdamW(m.parameters(), lr=3e-2, weight_decay=0.0)
    first = m(x, labels=x).loss.item()
    for _ in range(100):
        loss = m(x, labels=x).loss
        opt.zero_grad(); loss.backward(); opt.step()
    assert abs(first - math.log(17)) < 0.5, first
    assert loss.item() < 0.05, (arch, first, loss.item())


@pytest.mark.parametrize('arch', ARCHS)
def test_loss_contract(arch):
    "HF-style labels (shifted inside, -100 ignored) and pre-shifted `shift_labels` give the textbook cross-entropy."
    m = tiny(arch).eval()
    x = torch.randint(0, 17, (3, 10))
    with torch.no_grad():
        out = m(x, labels=x)
        ref = torch.nn.functional.cross_entropy(out.logits[:, :-1].reshape(-1, 17), x[:, 1:].reshape(-1))
        assert torch.allclose(out.loss, ref, atol=1e-6)
        y = x.clone(); y[:, :4] = -100
        ref2 = torch.nn.functional.cross_entropy(out.logits[:, 3:-1].reshape(-1, 17), x[:, 4:].reshape(-1))
        assert torch.allclose(m(x, labels=y).loss, ref2, atol=1e-6)
        assert torch.allclose(m(x, shift_labels=x).loss, torch.nn.functional.cross_entropy(out.logits.reshape(-1, 17), x.reshape(-1)), atol=1e-6)
        assert m(x).loss is None and out.past_key_values is None


@pytest.mark.parametrize('arch', ARCHS)
@pytest.mark.parametrize('tie', [True, False])
def test_save_load_roundtrip(arch, tie, tmp_path):
    m = tiny(arch, tie_weights=tie)
    with torch.no_grad():  # move the weights off their init so the test sees real values
        for p in m.parameters(): p.add_(0.01 * torch.randn_like(p))
    m.eval().save_pretrained(tmp_path)
    assert (tmp_path/'config.json').is_file() and (tmp_path/'model.safetensors').is_file()
    l = load_model(tmp_path).eval()
    assert type(l) is type(m) and (l.lm_head.weight is l.get_input_embeddings().weight) == tie
    x = torch.randint(0, 17, (2, 16))
    with torch.no_grad(): assert torch.equal(l(x).logits, m(x).logits)
    # registered with the Auto classes too
    a = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    with torch.no_grad(): assert (a(x).logits - m(x).logits).abs().max() <= 1e-5


@pytest.mark.parametrize('tie', [True, False])
def test_gpt_export_is_stock_transformers(tie, tmp_path):
    "A trained llmbench `gpt` checkpoint loads in stock transformers as GPT2LMHeadModel with the same logits."
    m = tiny('gpt', 17, tie_weights=tie).train()
    x = torch.randint(0, 17, (4, 32))
    opt = torch.optim.AdamW(m.parameters(), lr=1e-2)
    for _ in range(5):
        opt.zero_grad(); m(x, labels=x).loss.backward(); opt.step()
    m.eval().save_pretrained(tmp_path)
    cfg = json.loads((tmp_path/'config.json').read_text())
    assert cfg['model_type'] == 'gpt2' and cfg['architectures'] == ['GPT2LMHeadModel']  # what vLLM/TGI dispatch on
    s = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert type(s) is GPT2LMHeadModel
    with torch.no_grad():
        assert (s(x).logits - m(x).logits).abs().max() <= 1e-5
        am = torch.ones(4, 32, dtype=torch.long); am[0, :5] = 0  # left padding: stock and lean agree on real tokens
        assert (s(x, attention_mask=am).logits[0, 5:] - m(x, attention_mask=am).logits[0, 5:]).abs().max() <= 1e-5
        assert (s(x, labels=x).loss - m(x, labels=x).loss).abs() <= 1e-5


@pytest.mark.parametrize('arch', ARCHS)
def test_incremental_equals_full(arch):
    "Feeding only the new tokens with the returned state gives the logits of the full sequence."
    m = tiny(arch, dropout=0.1).eval()  # eval: dropout off
    x = torch.randint(0, 17, (2, 30))
    with torch.no_grad():
        full = m(x).logits
        out = m(x[:, :9], use_cache=True); parts = [out.logits]
        state_sizes = []
        for i in range(9, 30, 1 if arch != 'gpt' else 3):
            j = i + (1 if arch != 'gpt' else 3)
            out = m(x[:, i:j], past_key_values=out.past_key_values, use_cache=True); parts.append(out.logits)
            if arch != 'gpt': state_sizes.append(sum(t.numel() for t in out.past_key_values))
        assert (torch.cat(parts, 1) - full).abs().max() <= 1e-5
        if arch != 'gpt': assert len(set(state_sizes)) == 1  # constant-size state: per-token cost does not grow
        # the `cache` name of transformers 5 works too
        o2 = m(x[:, :5], use_cache=True); o3 = m(x[:, 5:10], cache=o2.cache, use_cache=True)
        assert (o3.logits - full[:, 5:10]).abs().max() <= 1e-5


def test_gpt_rejects_too_long_input():
    m = tiny('gpt').eval()
    with pytest.raises(LLMBenchError, match='block_size=32'): m(torch.zeros(1, 33, dtype=torch.long))


@pytest.mark.parametrize('kw, field', [
    (dict(arch='transformer'), 'arch'), (dict(arch='hf:'), 'arch'), (dict(n_head=3), 'n_embd'), (dict(n_layer=0), 'n_layer'),
    (dict(n_embd=-8), 'n_embd'), (dict(block_size=0), 'block_size'), (dict(vocab_size=0), 'vocab_size'),
    (dict(n_head=2.0), 'n_head'), (dict(dropout=1.5), 'dropout'), (dict(arch='cnn', kernel_size=2, block_size=64), 'kernel_size'),
    (dict(arch='lstm', n_inner=64), 'n_inner'), (dict(eos_token_id=99), 'eos_token_id')])
def test_invalid_configs_name_the_field(kw, field):
    args = dict(arch='gpt', vocab_size=17, n_layer=2, n_head=2, n_embd=32, block_size=16) | kw
    with pytest.raises(LLMBenchError) as e: build_model(**args)
    assert str(e.value).startswith(f'{field}='), str(e.value)


def test_block_size_checked_against_data():
    class Data:
        def n_tokens(self, split): return {'train': 500, 'val': 20}[split]
    validate_config('gpt', 17, block_size=19, data=Data())
    with pytest.raises(LLMBenchError, match='block_size=20: larger than the val split'): build_model('gpt', 17, block_size=20, data=Data())


def test_hf_spec_local_path(tmp_path):
    "`hf:<path>` loads any HF causal LM; the size helpers work on it."
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(vocab_size=17, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                 num_key_value_heads=2, max_position_embeddings=48)).save_pretrained(tmp_path)
    m = load_model(f'hf:{tmp_path}').eval()
    assert type(m).__name__ == 'LlamaForCausalLM' and context_length(m) == 48 and receptive_field(m) == 48
    x = torch.randint(0, 17, (1, 12))
    with torch.no_grad():
        out = m(x, labels=x, use_cache=True)
        nxt = m(x[:, -1:] * 0 + 3, past_key_values=out.past_key_values).logits
        assert out.loss is not None and nxt.shape == (1, 1, 17)
    n = count_params(m, embeddings=False)
    assert n == count_params(m) - 2 * 17 * 32  # untied embedding and head left out
    assert flops_per_token(m, seq_len=12) == 6 * (n + 17 * 32) + 12 * 2 * 32 * 12
    assert type(build_model(f'hf:{tmp_path}', 17)).__name__ == 'LlamaForCausalLM'
    with pytest.raises(LLMBenchError, match='vocab_size=18: larger than the 17 token embeddings'): build_model(f'hf:{tmp_path}', 18)
    with pytest.raises(LLMBenchError, match='no config.json'): load_model(tmp_path/'missing')
    with pytest.raises(LLMBenchError, match="model 'hf:"): load_model(f'hf:{tmp_path}/missing')


def test_sizes_and_presets():
    for arch in ARCHS:
        s = size_near(arch, 200_000, 65, 64)
        m = build_model(arch, 65, **s)
        assert abs(count_params(m) / 200_000 - 1) < 0.05, (arch, s, count_params(m))
    m = build_model_near('gru', 50_000, 65, 64, n_layer=3, embeddings=False)
    assert m.config.n_layer == 3 and abs(count_params(m, embeddings=False) / 50_000 - 1) < 0.05
    assert context_length(tiny('gpt')) == 32 and context_length(tiny('lstm')) is None and context_length(tiny('cnn')) is None
    assert receptive_field(tiny('cnn', block_size=100)) >= 100


def test_bench_model_step_small():
    r = bench_model_step('gpt', n_layer=1, n_head=2, n_embd=16, block_size=8, batch_size=2, steps=3, peak_seconds=0.02, threads=1)
    assert r['tokens_per_step'] == 16 and r['ms_per_step'] > 0 and r['mfu'] > 0 and r['stock']['ms_per_step'] > 0
    assert r['speedup_vs_stock'] > 0 and r['threads'] == 1 and 'stock' not in bench_model_step('lstm', n_layer=1, n_embd=8, block_size=8, batch_size=2, steps=1, peak_seconds=0.01)
    assert r['matmul_peak_flops'] >= max(r['matmul_peaks'])


def test_notebook_smoke(run_nb):
    res = run_nb('03_models')
    assert set(res['archs']) == set(ARCHS)
    for arch, r in res['archs'].items():
        m = build_model(arch, res['vocab_size'], n_layer=res['n_layer'], n_head=res['n_head'], n_embd=res['n_embd'], block_size=res['block_size'])
        assert r['params'] == count_params(m) and r['params_non_embedding'] == count_params(m, embeddings=False)
        assert r['flops_per_token'] == flops_per_token(m)
        assert abs(r['init_loss'] - math.log(res['vocab_size'])) < 0.5
    assert res['archs']['cnn']['receptive_field'] >= res['block_size']
    assert res['flops_over_6n']['gpt'] > 1 and res['flops_over_6n']['lstm'] > 1  # attention / output head on top of 6N


def test_notebook_other_params(run_nb):
    "Sized for real data: vocab_size=0 takes the prepared corpus's vocabulary (and checks block_size against it)."
    from llmbench.data import prepare_data
    V = prepare_data().vocab_size
    res = run_nb('03_models', archs='gpt,cnn', vocab_size=0, n_layer=3, n_head=3, n_embd=48, block_size=100)
    assert set(res['archs']) == {'gpt', 'cnn'} and res['vocab_size'] == V and res['data']['vocab_size'] == V
    assert res['archs']['gpt']['context_length'] == 100
    assert res['archs']['cnn']['receptive_field'] >= 100 and res['archs']['cnn']['kernel_size'] == 5
    gpt = build_model('gpt', V, n_layer=3, n_head=3, n_embd=48, block_size=100)
    assert res['archs']['gpt']['params'] == count_params(gpt)


@pytest.mark.parametrize('arch', ARCHS)
def test_resize_token_embeddings(arch):
    "transformers' resize_token_embeddings (new tokens for fine-tuning) keeps the head tied and the contract intact."
    m = tiny(arch)
    m.resize_token_embeddings(20, mean_resizing=False)
    x = torch.randint(0, 20, (2, 8))
    out = m(x, labels=x)
    assert out.logits.shape == (2, 8, 20) and m.config.vocab_size == 20 and torch.isfinite(out.loss)
    assert m.lm_head.weight is m.get_input_embeddings().weight


def test_explicit_attention_of_the_benchmark_is_the_same_function():
    "90_bench's explicit attention (bench_compile's variant) computes what the lesson's fused causal_attention does."
    import copy
    from llmbench.bench import ExplicitAttention, explicit_attention
    from llmbench.models import GPTAttention, causal_attention
    q, k, v = (torch.randn(2, 2, 16, 8) for _ in range(3))
    torch.testing.assert_close(explicit_attention(q, k, v), causal_attention(q, k, v), atol=1e-5, rtol=1e-4)
    m = tiny('gpt').eval(); m2 = copy.deepcopy(m)
    for a in m2.modules():
        if isinstance(a, GPTAttention): a.__class__ = ExplicitAttention
    x = torch.randint(0, 17, (2, 32))
    torch.testing.assert_close(m2(x).logits, m(x).logits, atol=1e-5, rtol=1e-4)


# ---- damaged checkpoints (issue 12) ----

def _damage(folder, how):
    w, c = folder/'model.safetensors', folder/'config.json'
    if how == 'truncated weights': os.truncate(w, 1000); return w
    if how == 'weights cut short': os.truncate(w, w.stat().st_size - 10); return w
    if how == 'broken config': c.write_text(c.read_text()[:40]); return c
    c.write_text('[1, 2]'); return c


@pytest.mark.parametrize('how', ['truncated weights', 'weights cut short', 'broken config', 'config not an object'])
def test_damaged_checkpoint_names_the_file_and_the_other_checkpoint(tmp_path, how):
    m = build_model('gpt', 17, n_layer=1, n_head=2, n_embd=16, block_size=8)
    for k in ('best', 'last'): m.save_pretrained(tmp_path/'checkpoints'/k)
    bad = _damage(tmp_path/'checkpoints'/'last', how)
    with pytest.raises(LLMBenchError) as e: load_model(tmp_path/'checkpoints'/'last')
    msg = str(e.value)
    assert f'{bad}: damaged' in msg and f"the other checkpoint {tmp_path/'checkpoints'/'best'} is intact" in msg, msg
    with pytest.raises(LLMBenchError, match=f'{bad}: damaged'): load_model(f"hf:{tmp_path/'checkpoints'/'last'}")
    m.save_pretrained(tmp_path/'alone'); bad = _damage(tmp_path/'alone', how)
    with pytest.raises(LLMBenchError) as e: load_model(tmp_path/'alone')
    assert f'{bad}: damaged' in str(e.value) and 'other checkpoint' not in str(e.value), str(e.value)
    assert type(load_model(tmp_path/'checkpoints'/'best')).__name__ == 'GPT'  # the intact one loads


@pytest.mark.parametrize('arch', ARCHS)
def test_saved_files_follow_the_umask(arch, tmp_path):
    "safetensors writes its files 0600; a checkpoint should be as readable as any file this process writes."
    old = os.umask(0o022)
    try: tiny(arch).save_pretrained(tmp_path)
    finally: os.umask(old)
    modes = {f.name: oct(f.stat().st_mode & 0o777) for f in tmp_path.iterdir()}
    assert set(modes.values()) == {'0o644'}, modes
