"09_finetune: the notebook (lm and chat), the merged model, exact LoRA resume, hf: bases and bad input."
import copy, json, shutil
from pathlib import Path
import pytest, torch
from llmbench.core import LLMBenchError, seed_everything
from llmbench.data import prepare_data
from llmbench.models import build_model
import llmbench.finetune as F
from llmbench.train import train

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def docs():
    return prepare_data('embedded:python-docs', 'char')


def _base(tmp_path, data, steps=10, n_layer=2):
    "A small pretrained base checkpoint folder (config, weights, tokenizer)."
    return F.pretrain_base(tmp_path/'base', 'embedded:python-docs', 'char', '', 'gpt', n_layer, 2, 32, 32, steps,
                           3e-3, 4)


def test_notebook_lm_smoke(run_nb, tmp_path):
    res = run_nb('09_finetune')
    rows = {r['method']: r for r in res['rows']}
    assert list(rows) == ['full', 'freeze:1', 'lora', 'full+replay', 'scratch'] and res['task'] == 'lm'
    for r in rows.values():
        assert r['forgetting'] == pytest.approx(r['base_after'] - r['base_before'])
        assert r['optimizer_state_bytes'] > 0 and r['ms_per_step'] > 0 and len(r['curve']) >= 2
    assert rows['full']['trainable_pct'] == 100
    assert rows['lora']['trainable_pct'] < rows['freeze:1']['trainable_pct'] < 100
    assert rows['lora']['optimizer_state_bytes'] < 0.5 * rows['full']['optimizer_state_bytes']
    assert rows['scratch']['new_before'] > rows['full']['new_before']  # a fresh model starts where the base does not
    assert rows['full+replay']['replay_share'] == 0.25 and res['headline'] and res['conclusions']
    out = tmp_path/'run'/'09_finetune'
    assert (out/'tradeoff.png').is_file()
    lora = Path(rows['lora']['model_dir'])
    assert (lora/'model.safetensors').is_file() and (lora/'tokenizer.json').is_file()
    assert (Path(rows['lora']['adapter_dir'])/'adapter_config.json').is_file()


def test_notebook_chat_other_methods(run_nb, tmp_path):
    res = run_nb('09_finetune', task='chat', methods='lora+replay,freeze:2', lora_r=4, max_steps=12, eval_interval=6)
    assert [r['method'] for r in res['rows']] == ['lora+replay', 'freeze:2'] and res['task'] == 'chat'
    ch = res['chat']
    assert ch['n_train'] > 0 and ch['n_val'] > 0 and 'truncation_rule' in ch
    assert set(ch['answers']) == {'before', 'lora+replay', 'freeze:2'}
    for a in ch['answers'].values():
        assert a['chrf']['signature'].startswith('nrefs:1') and len(a['chrf']['ci95']) == 2 and 'bleu' in a
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(res['rows'][0]['model_dir'])  # the chat template travels with the model
    text = tok.apply_chat_template([{'role': 'user', 'content': 'assert?'}], tokenize=False, add_generation_prompt=True)
    assert text == 'Q: assert?\nA: '


def test_bad_settings_fail_before_anything_is_written(run_nb, tmp_path):
    with pytest.raises(Exception, match='freeze:9: the model has 2 layers'):
        run_nb('09_finetune', methods='full,freeze:9')
    out = tmp_path/'run'/'09_finetune'
    assert not (out/'methods').exists() and not (out/'results.json').exists()
    with pytest.raises(Exception, match='lora_r'): run_nb('09_finetune', lora_r=0)


def test_merged_gpt_loads_in_stock_automodel_with_equal_logits(tmp_path):
    from transformers import AutoModelForCausalLM
    from peft import PeftModel
    seed_everything(0)
    base = build_model('gpt', 60, 2, 2, 32, 32)
    base.save_pretrained(tmp_path/'base')
    lm = F.LoraLM(copy.deepcopy(base), r=4, alpha=8)
    for m in lm._layers().values(): torch.nn.init.normal_(m.lora_B[F.ADAPTER].weight, std=0.2)  # a non-zero update
    lm.merged().save_pretrained(tmp_path/'merged'); lm.peft.save_pretrained(tmp_path/'adapter')
    stock = AutoModelForCausalLM.from_pretrained(tmp_path/'merged').eval()
    assert type(stock).__name__ == 'GPT2LMHeadModel'
    x = torch.randint(0, 60, (3, 20))
    with torch.no_grad():
        ref = lm.eval()(x).logits
        assert (stock(x).logits - ref).abs().max() <= 1e-5
        assert (ref - base(x).logits).abs().max() > 1e-3  # the adapters do change the model
        pm = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tmp_path/'base'), tmp_path/'adapter').eval()
        assert (pm(input_ids=x).logits - ref).abs().max() <= 1e-5


def test_lora_resume_equals_uninterrupted(docs, tmp_path):
    data = F.DomainData(docs, docs, replay=0.25, eval_tokens=512)
    kw = dict(max_steps=8, eval_interval=4, log_interval=2, lr=5e-3, warmup_steps=1, batch_size=4, block_size=16,
              eval_batches=2, device='cpu', progress=False)
    def model(seed=0):
        seed_everything(0); m = build_model('gpt', docs.vocab_size, 1, 2, 16, 16)
        seed_everything(seed); return F.LoraLM(m, r=2, alpha=4, dropout=0.1)
    full = train(model(), data, out_dir=tmp_path/'a', **kw)
    stop = lambda ev, rec, h: ev == 'eval' and rec['step'] == 4
    half = train(model(), data, out_dir=tmp_path/'b', callbacks=[stop], **kw)
    assert half.steps == 4
    rest = train(model(seed=123), data, out_dir=tmp_path/'b', resume=True, **kw)
    losses = lambda r: [h['train_loss'] for h in r.history if 'train_loss' in h]
    assert rest.steps == 8 and losses(rest) == losses(full) and rest.val_loss == full.val_loss
    from safetensors.torch import load_file
    wa, wb = (load_file(str(tmp_path/d/'checkpoints/last/adapter/adapter_model.safetensors')) for d in ('a', 'b'))
    assert wa and all(torch.equal(wa[k], wb[k]) for k in wa)
    from llmbench.models import load_model  # the training checkpoint loads as the fine-tuned (merged) model
    m = load_model(tmp_path/'a'/'checkpoints'/'last').eval(); x = torch.randint(0, docs.vocab_size, (2, 16))
    fin = model(); fin.load_state_dict(load_file(str(tmp_path/'a/checkpoints/last/model.safetensors')), strict=False)
    with torch.no_grad(): assert (m(x).logits - fin.eval()(x).logits).abs().max() <= 1e-5


def test_hf_llama_base_with_lora(docs, tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM
    seed_everything(0)
    LlamaForCausalLM(LlamaConfig(vocab_size=docs.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                 num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=48)
                     ).save_pretrained(tmp_path/'llama')
    docs.tokenizer.save_pretrained(tmp_path/'llama')
    spec = F.resolve_base(f'hf:{tmp_path/"llama"}')
    model, tok = F.load_base(spec)
    new = F.domain_data('embedded:python-code', tok, vocab_size=model.get_input_embeddings().num_embeddings)
    base_eval = F.DomainData(F.domain_data('embedded:python-docs', tok), eval_tokens=256)
    row, m = F.finetune_run(model, F.parse_method('lora'), F.DomainData(new, eval_tokens=256), base_eval,
                            dict(max_steps=4, batch_size=4, block_size=32, eval_interval=2, eval_batches=2, lr=5e-3,
                                 device='cpu'),
                            tmp_path/'ft', dict(r=4, alpha=8))
    assert isinstance(m, F.LoraLM) and F.lora_targets_for(model) is None  # peft's defaults for llama
    assert {n.split('.')[-1] for n in m._layers()} == {'q_proj', 'v_proj'} and 0 < row['trainable_pct'] < 10
    from transformers import AutoModelForCausalLM
    merged = AutoModelForCausalLM.from_pretrained(row['model_dir']).eval()
    x = torch.randint(0, docs.vocab_size, (2, 16))
    with torch.no_grad(): assert (merged(x).logits - m.eval()(x).logits).abs().max() <= 1e-5
    assert F.freeze_top(copy.deepcopy(merged), 1) is not None and len(F.layer_stack(merged)) == 2


def test_base_resolution_and_bad_bases(docs, tmp_path):
    ck = Path(_base(tmp_path, docs, steps=4))
    run = tmp_path/'run'; shutil.copytree(ck, run/'04_train'/'checkpoints'/'best')
    want = str(run/'04_train'/'checkpoints'/'best')
    assert F.resolve_base('', str(run)) == want and F.resolve_base(str(run)) == want
    assert F.resolve_base(str(ck)) == str(ck)
    assert F.resolve_base('', str(tmp_path/'empty_run')) == ''
    with pytest.raises(LLMBenchError, match='no such folder'): F.resolve_base(str(tmp_path/'nope'))
    bad = tmp_path/'bad'; shutil.copytree(ck, bad); (bad/'model.safetensors').unlink()
    with pytest.raises(LLMBenchError, match=str(bad/'model.safetensors')): F.resolve_base(str(bad))
    shutil.copy(ck/'model.safetensors', bad/'model.safetensors'); (bad/'model.safetensors').write_bytes(b'\0' * 20)
    with pytest.raises(LLMBenchError, match='model.safetensors: damaged'): F.resolve_base(str(bad))
    shutil.rmtree(bad); shutil.copytree(ck, bad)
    (bad/'tokenizer.json').unlink(); (bad/'tokenizer_config.json').unlink()
    with pytest.raises(LLMBenchError, match='tokenizer'): F.resolve_base(str(bad))
    with pytest.raises(LLMBenchError, match='config.json is missing'): F.resolve_base(f'hf:{tmp_path}')
    big = tmp_path/'big'; build_model('gpt', 10, 1, 2, 16, 16).save_pretrained(big); docs.tokenizer.save_pretrained(big)
    with pytest.raises(LLMBenchError, match='do not belong together'): F.load_base(F.resolve_base(str(big)))


def test_bad_methods_and_lora_settings(docs):
    g = build_model('gpt', docs.vocab_size, 2, 2, 16, 16)
    with pytest.raises(LLMBenchError, match="'q_proj' is not a module of this model; its modules are .*c_attn"):
        F.LoraLM(copy.deepcopy(g), targets='q_proj')
    for kw, msg in [(dict(r=0), 'lora_r=0'), (dict(r=-2), 'lora_r=-2'), (dict(alpha=0), 'lora_alpha=0'),
                    (dict(dropout=1.0), 'lora_dropout=1.0')]:
        with pytest.raises(LLMBenchError, match=msg): F.LoraLM(copy.deepcopy(g), **kw)
    with pytest.raises(LLMBenchError, match=r'freeze:3: the model has 2 layers'): F.freeze_top(copy.deepcopy(g), 3)
    with pytest.raises(LLMBenchError, match=r'replay=1.0'): F.DomainData(docs, docs, replay=1.0)
    with pytest.raises(LLMBenchError, match=r'replay=-0.1'): F.DomainData(docs, docs, replay=-0.1)
    with pytest.raises(LLMBenchError, match='nn.LSTM'): F.LoraLM(build_model('lstm', 50, 2, 1, 16, 16))
    with pytest.raises(LLMBenchError, match='GRU'): F.LoraLM(build_model('gru', 50, 2, 1, 16, 16), targets='rnn')
    with pytest.raises(LLMBenchError, match='tied'): F.LoraLM(build_model('lstm', 50, 2, 1, 16, 16), targets='lm_head')
    with pytest.raises(LLMBenchError, match='dilat'): F.LoraLM(build_model('cnn', 50, 3, 1, 16, 16), targets='conv')
    c = F.LoraLM(build_model('cnn', 50, 3, 1, 16, 16), r=2)  # cnn: the 1x1 projections
    x = torch.randint(0, 50, (2, 12)); assert c(x).logits.shape == (2, 12, 50)


def test_bad_chat_data(docs, tmp_path):
    f = tmp_path/'chat.jsonl'
    ok = '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}'
    for text, msg in [(ok + '\n{"messages": [', 'chat.jsonl:2: not valid JSON'),
                      ('{"messages": [{"role": "user", "content": "hi"}]}', 'chat.jsonl:1: no assistant turn'),
                      ('{"messages": [{"role": "robot", "content": "hi"}]}', "unknown role 'robot'"),
                      (ok + '\n' + ok + '\n{"prompt": "hi", "response": "  "}',
                       'chat.jsonl:3: message 1 \\(assistant\\) has empty content'),
                      ('{"text": "hi"}', "neither a 'messages' list")]:
        f.write_text(text + '\n')
        with pytest.raises(LLMBenchError, match=msg): F.read_chat(f)
    with pytest.raises(LLMBenchError, match='no such file'): F.read_chat(tmp_path/'missing.jsonl')
    tok = F.with_chat_template(copy.deepcopy(docs.tokenizer))
    long = [{'role': 'user', 'content': 'x' * 40}, {'role': 'assistant', 'content': 'y'}]
    with pytest.raises(LLMBenchError, match='longer than the context.*block_size=32'): F.encode_chat(tok, long, 32)
    conv = [{'role': 'user', 'content': 'q'}, {'role': 'assistant', 'content': 'y' * 60}]
    ids, mask, cut = F.encode_chat(tok, conv, 32)
    assert cut and len(ids) == 33 and sum(mask) == 33 - len('Q: q\nA: ')  # the rule: cut from the end
    f.write_text('\n'.join([ok] * 5 + ['{"prompt": "p", "response": "r"}'] * 5) + '\n')
    convs = F.split_chat(list(enumerate(F.read_chat(f))), 0.2, 0)
    cd = F.ChatData(tok, convs, 32)
    x, y = cd.get_batch('train', 4, 32, torch.Generator().manual_seed(0))
    assert x.shape == (4, 32) and ((y != -100).sum(1) > 0).all()


def test_bench_finetune_tiny():
    r = F.bench_finetune(n_layer=1, n_head=2, n_embd=32, block_size=16, batch_size=2, steps=2, vocab_size=50, rounds=1,
                         threads=1)
    assert r['optimizer_state_ratio'] < 1 and r['ms_per_step_ratio'] > 0 and set(r['targets'])
    assert r['lora']['trainable'] < r['full']['trainable']
    from llmbench.cli import BENCHES
    assert BENCHES['finetune'] == ('llmbench.finetune', 'bench_finetune')
