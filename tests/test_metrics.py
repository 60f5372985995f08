"Tests of llmbench.metrics: perplexity units and methods, BLEU/chrF with sacrebleu, significance, continuation task, notebook runs."
import math
from pathlib import Path
import numpy as np
import pytest
import sacrebleu
import torch

from llmbench.core import LLMBenchError
from llmbench.metrics import (perplexity, encode_text, sliding_windows, bootstrap_ci, count_words, bleu, chrf, paired_test,
                              ref_streams_of, continuation_task, score_continuations, evaluate_style_perplexity)


@pytest.fixture(scope='module')
def text():
    import inspect, json
    return inspect.getsource(json.decoder) + inspect.getsource(json.encoder)   # text that ships with Python


@pytest.fixture(scope='module')
def bpe(text):
    "A byte-level BPE tokenizer trained here with `tokenizers` (GPT-2's pre-tokenizer)."
    from tokenizers import Tokenizer, models, trainers, pre_tokenizers, decoders
    from transformers import PreTrainedTokenizerFast
    t = Tokenizer(models.BPE()); t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False); t.decoder = decoders.ByteLevel()
    t.train_from_iterator([text], trainers.BpeTrainer(vocab_size=300, special_tokens=['<|endoftext|>'], show_progress=False,
                                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=t, eos_token='<|endoftext|>', bos_token='<|endoftext|>')


@pytest.fixture(scope='module')
def gpt2(bpe):
    from transformers import GPT2Config, GPT2LMHeadModel
    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=64, n_head=2, n_positions=64, vocab_size=len(bpe),
                                      bos_token_id=bpe.eos_token_id, eos_token_id=bpe.eos_token_id)).eval()


def guide(model, input_ids, max_length, stride, guide_count=True):
    "The loop of the transformers guide 'Perplexity of fixed-length models', written out here independently."
    seq_len = input_ids.size(1)
    nll_sum, n_tokens, prev_end_loc = 0.0, 0, 0
    for begin_loc in range(0, seq_len, stride):
        end_loc = min(begin_loc + max_length, seq_len)
        trg_len = end_loc - prev_end_loc
        ids = input_ids[:, begin_loc:end_loc]
        target_ids = ids.clone(); target_ids[:, :-trg_len] = -100
        with torch.no_grad(): nll = model(ids, labels=target_ids).loss
        n = (target_ids != -100).sum().item() - 1 if guide_count else (target_ids[:, 1:] != -100).sum().item()
        nll_sum += nll.double() * n; n_tokens += n; prev_end_loc = end_loc
        if end_loc == seq_len: break
    return math.exp(nll_sum / n_tokens), n_tokens


# ---- perplexity ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize('arch', ['gpt', 'lstm', 'gru', 'cnn'])
def test_uniform_logits_give_vocab_size(arch, text):
    "A model whose output matrix is zero has uniform logits: perplexity V, bits per byte log2(V)·tokens/bytes."
    from llmbench.models import build_model
    from llmbench.data import build_tokenizer
    tok = build_tokenizer('char', [text])
    V = len(tok)
    m = build_model(arch, V, n_layer=1, n_head=2, n_embd=16, block_size=32)
    with torch.no_grad(): m.get_output_embeddings().weight.zero_()
    docs = [d for d in text.split('\n\n') if d.strip()][:12]
    for prefix in (None, 'eos'):
        r = perplexity(m, tok, docs, batch_size=4, prefix=prefix, n_boot=50)
        assert r.method == ('sliding-window' if arch == 'gpt' else 'stateful')
        assert r.token_perplexity == pytest.approx(V, rel=1e-6)
        assert r.bits_per_byte == pytest.approx(math.log2(V) * r.n_predicted / r.n_bytes, rel=1e-6)
        assert r.n_predicted == r.n_tokens - (0 if prefix else r.n_docs)
        assert r.n_bytes == sum(len(d.encode()) for d in docs) and r.n_words == sum(count_words(d) for d in docs)


def test_gpt2_matches_transformers_guide(gpt2, bpe, text, tmp_path):
    "On a random GPT-2 and a text file, `perplexity` equals the guide's computation to 1e-6 relative."
    f = tmp_path/'t.txt'; f.write_text(text[:5000], encoding='utf-8')
    ids = bpe(f.read_text(encoding='utf-8'), return_tensors='pt').input_ids
    for stride in (64, 32, 20):
        exact, n = guide(gpt2, ids, 64, stride, guide_count=False)
        r = perplexity(gpt2, bpe, f, stride=stride, batch_size=8, n_boot=0)
        assert r.token_perplexity == pytest.approx(exact, rel=1e-6) and r.n_predicted == n
        if stride == 64:  # disjoint windows: the guide's own token count is exact too
            verbatim, n2 = guide(gpt2, ids, 64, stride)
            assert r.token_perplexity == pytest.approx(verbatim, rel=1e-6) and r.n_predicted == n2
    assert r.n_predicted == ids.shape[1] - 1      # overlapping windows: every token but the first, once


@pytest.mark.parametrize('arch', ['lstm', 'gru', 'cnn'])
def test_stateful_equals_full_sequence(arch, text):
    "Carrying the recurrent state (convolution buffers) across chunks gives the loss of one pass over the whole document."
    from llmbench.models import build_model
    from llmbench.data import build_tokenizer
    tok = build_tokenizer('char', [text])
    torch.manual_seed(0)
    m = build_model(arch, len(tok), n_layer=2, n_embd=16, block_size=32).eval()
    if arch != 'cnn':
        with torch.no_grad():
            for p in m.parameters(): p.mul_(8)     # large weights: predictions depend on a long history
    doc = text[:700]
    r = perplexity(m, tok, [doc, doc[:300]], max_length=50, batch_size=2, n_boot=0)   # chunks of 50, two lengths in one batch
    ids = torch.tensor([tok(doc, add_special_tokens=False).input_ids])
    with torch.no_grad(): full = m(ids, labels=ids).loss.item()
    assert r.method == 'stateful' and r.doc_stats[0, 1] == ids.shape[1] - 1
    assert r.doc_stats[0, 0] / r.doc_stats[0, 1] == pytest.approx(full, rel=1e-5)   # float32, chunked vs one pass
    if arch != 'cnn':
        w = perplexity(m, tok, [doc], max_length=50, method='sliding-window', n_boot=0)     # windows forget what is before them
        assert abs(w.nll_per_token / full - 1) > 1e-4


def test_hf_path_model_and_its_tokenizer(gpt2, bpe, text, tmp_path):
    "A model given as 'hf:<path>' is loaded with its saved tokenizer and scores as the object does."
    gpt2.save_pretrained(tmp_path/'m'); bpe.save_pretrained(tmp_path/'m')
    a = perplexity(f'hf:{tmp_path/"m"}', None, text[:2000], n_boot=0, device='cpu')
    b = perplexity(gpt2, bpe, text[:2000], n_boot=0)
    assert a.token_perplexity == pytest.approx(b.token_perplexity, rel=1e-6) and a.n_predicted == b.n_predicted


def test_evaluate_style_is_mean_of_per_text_perplexities(gpt2, bpe, text):
    paras = [p for p in text.split('\n\n') if 3 <= len(bpe(p).input_ids) <= 60][:10]
    ev = evaluate_style_perplexity(gpt2, bpe, paras, batch_size=4, max_length=64)
    ours = perplexity(gpt2, bpe, paras, prefix='bos', n_boot=0)
    per = np.exp(ours.doc_stats[:, 0] / ours.doc_stats[:, 1])
    np.testing.assert_allclose(ev['perplexities'], per, rtol=1e-5)
    assert ev['mean_perplexity'] == pytest.approx(per.mean(), rel=1e-5)


def test_lmdata_tokens_are_scored(text, tmp_path, monkeypatch):
    from llmbench.data import prepare_data
    from llmbench.models import build_model
    monkeypatch.setenv('LLMBENCH_PATHS_CACHE_DIR', str(tmp_path/'cache'))
    f = tmp_path/'docs.jsonl'
    import json
    f.write_text(''.join(json.dumps({'text': p}) + '\n' for p in text.split('\n\n') if p.strip()))
    data = prepare_data(str(f), 'char', 'doc:0.8/0.1/0.1', 0)
    m = build_model('gpt', data.vocab_size, n_layer=1, n_head=2, n_embd=16, block_size=32)
    r = perplexity(m, None, data, split='test', n_boot=100)
    off = data.doc_offsets('test')
    assert r.n_docs == len(off) - 1 and r.n_tokens == data.n_tokens('test') - r.n_docs   # each document's EOS left out
    assert r.ci['over'] == 'documents' and r.ci['token_perplexity'][0] <= r.token_perplexity <= r.ci['token_perplexity'][1]


def test_chunked_encoding_equals_whole(bpe, text):
    whole = bpe(text, add_special_tokens=False).input_ids
    np.testing.assert_array_equal(encode_text(bpe, text, chunk_chars=2000), whole)


def test_windows_and_bootstrap():
    assert sliding_windows(10, 4, 2) == [(0, 4, 0), (2, 6, 4), (4, 8, 6), (6, 10, 8)]
    st = np.array([[10., 5, 20, 4], [30., 10, 40, 9], [5., 5, 10, 3], [8., 4, 9, 2]])
    ci = bootstrap_ci(st, n_boot=300)
    assert ci['token_perplexity'][0] < math.exp(st[:, 0].sum() / st[:, 1].sum()) < ci['token_perplexity'][1]
    assert ci['n_units'] == 4 and bootstrap_ci(st[:1]) == {}


def test_perplexity_bad_input(gpt2, bpe):
    with pytest.raises(LLMBenchError, match='stride=100: must be between 1 and the context length 64'):
        perplexity(gpt2, bpe, 'some text here', stride=100)
    with pytest.raises(LLMBenchError, match="method='beam'"):
        perplexity(gpt2, bpe, 'some text', method='beam')
    with pytest.raises(LLMBenchError, match="prefix='start'"):
        perplexity(gpt2, bpe, 'some text', prefix='start')
    with pytest.raises(LLMBenchError, match='no non-empty document'):
        perplexity(gpt2, bpe, ['', ''])
    with pytest.raises(LLMBenchError, match=r'texts\[1\]: a int'):
        perplexity(gpt2, bpe, ['ok', 3])
    with pytest.raises(LLMBenchError, match='no such file'):
        perplexity(gpt2, bpe, Path('/nonexistent/file.txt'))
    with pytest.raises(LLMBenchError, match='tokenizer: None'):
        perplexity(gpt2, None, ['text'])


# ---- BLEU / chrF -------------------------------------------------------------------------------------------

HYPS = ['The dog bit the man.', "It wasn't surprising.", 'The man had just bitten him.']
STREAMS = [['The dog bit the man.', "It wasn't surprising at all.", 'The man had bitten the dog.'],
           ['The dog had bit the man.', 'No one was surprised.', 'The man had bitten the dog.']]
PER_HYP = [list(r) for r in zip(*STREAMS)]


def test_bleu_matches_sacrebleu_with_signature():
    b1 = bleu(HYPS, [s[0] for s in PER_HYP])
    ref = sacrebleu.corpus_bleu(HYPS, STREAMS[:1])
    assert b1['score'] == pytest.approx(ref.score, abs=1e-12) and b1['n_refs'] == 1
    assert b1['signature'].startswith('nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:') and b1['signature'] in b1['formatted']
    assert b1['bp'] == pytest.approx(ref.bp) and b1['sys_len'] == ref.sys_len and b1['ref_len'] == ref.ref_len


def test_multiple_references():
    b2 = bleu(HYPS, PER_HYP, sentence=True)
    assert b2['score'] == pytest.approx(sacrebleu.corpus_bleu(HYPS, STREAMS).score, abs=1e-12)
    assert b2['signature'].startswith('nrefs:2|') and bleu(HYPS, ref_streams=STREAMS)['score'] == b2['score']
    assert b2['sentence_scores'][0] == pytest.approx(100) and 'eff:yes' in b2['sentence_signature']
    assert b2['score'] > bleu(HYPS, [s[1] for s in PER_HYP])['score']         # a second reference can only help here
    var = bleu(HYPS, [PER_HYP[0], PER_HYP[1][:1], PER_HYP[2]])
    assert var['signature'].startswith('nrefs:var|')
    c = chrf(HYPS, PER_HYP); cpp = chrf(HYPS, PER_HYP, word_order=2)
    assert c['score'] == pytest.approx(sacrebleu.corpus_chrf(HYPS, STREAMS).score, abs=1e-12)
    assert cpp['score'] == pytest.approx(sacrebleu.corpus_chrf(HYPS, STREAMS, word_order=2).score, abs=1e-12)
    assert '|nw:2|' in cpp['signature'] and '|nw:0|' in c['signature']


def test_mismatched_counts_are_errors():
    with pytest.raises(LLMBenchError, match='refs has 2 entries for 3 hypotheses'):
        bleu(HYPS, PER_HYP[:2])
    with pytest.raises(LLMBenchError, match=r"refs has 2 entries of 4 references each for 4 hypotheses: that is sacrebleu's stream orientation"):
        bleu(HYPS + ['x'], [s + ['y'] for s in STREAMS])
    with pytest.raises(LLMBenchError, match=r'ref_streams\[1\] has 2 references for 3 hypotheses'):
        chrf(HYPS, ref_streams=[STREAMS[0], STREAMS[1][:2]])
    with pytest.raises(LLMBenchError, match='hyps: a single string'):
        bleu('The dog bit the man.', ['The dog bit the man.'])
    with pytest.raises(LLMBenchError, match=r'refs\[1\]'):
        bleu(HYPS, [PER_HYP[0], [], PER_HYP[2]])
    with pytest.raises(LLMBenchError, match='word_order=3'):
        chrf(HYPS, PER_HYP, word_order=3)


def test_paired_significance():
    other = ['The dog bit the man.', 'Surprising.', 'A man.']
    for method in ('bs', 'ar'):
        r = paired_test(HYPS, other, PER_HYP, method=method, n_samples=300)
        assert 0 <= r['p_value'] <= 1 and r['difference'] < 0 and r['signature'].startswith('nrefs:2|')
        same = paired_test(HYPS, HYPS, PER_HYP, method=method, n_samples=300)
        assert same['p_value'] == 1.0 and same['difference'] == 0            # identical systems: not significant
    c = paired_test(HYPS, other, PER_HYP, metric='chrf++', n_samples=100)
    assert c['metric'] == 'chrF2++' and 0 <= c['p_value'] <= 1
    with pytest.raises(LLMBenchError, match='baseline has 3 hypotheses and system 2'):
        paired_test(HYPS, other[:2], PER_HYP)
    with pytest.raises(LLMBenchError, match="method='t'"):
        paired_test(HYPS, other, PER_HYP, method='t')


# ---- continuation task -------------------------------------------------------------------------------------

def test_continuation_task_and_scoring(text):
    docs = [p for p in text.split('\n\n') if p.strip()]
    task = continuation_task(docs, n=12, prompt_len=6, cont_len=5, seed=3)
    assert len(task) == 12 and task.prompts == continuation_task(docs, n=12, prompt_len=6, cont_len=5, seed=3).prompts
    for p, r, (d, a) in zip(task.prompts, task.references, task.sources):
        assert docs[d][a:].startswith(p) and len(p.split()) == 6 and r.split() == docs[d][a + len(p):].split()[:5]
    perfect = score_continuations([r + ' extra words' for r in task.references], task)
    assert perfect['exact_match'] == 1.0 and perfect['bleu']['score'] == pytest.approx(100)
    wrong = score_continuations(task.references[::-1], task)
    assert wrong['bleu']['score'] < perfect['bleu']['score'] and wrong['mean_prefix_words'] < 5
    with pytest.raises(LLMBenchError, match='hold only'):
        continuation_task(['one two three'], n=1, prompt_len=2, cont_len=2)
    with pytest.raises(LLMBenchError, match='hyps has 2 continuations for 12 references'):
        score_continuations(['a', 'b'], task)


# ---- the notebook ------------------------------------------------------------------------------------------

def test_notebook_smoke(run_nb):
    r = run_nb('07_metrics')
    p = r['perplexity']
    assert p['method'] == 'sliding-window' and p['n_predicted'] > 0 and p['n_docs'] >= 2
    assert p['ci']['token_perplexity'][0] <= p['token_perplexity'] <= p['ci']['token_perplexity'][1]
    assert p['bits_per_byte'] == pytest.approx(p['nll'] / math.log(2) / p['n_bytes'])
    assert r['architectures']['lstm']['method'] == 'stateful'
    assert r['checks']['guide_rel_err'] < 1e-6
    c = r['continuation']
    assert all(s['bleu_signature'].startswith('nrefs:1|') for s in c['systems'].values())
    assert c['paired']['identical']['p_value'] == 1.0 and all(0 <= v['p_value'] <= 1 for v in c['paired'].values())


def test_notebook_local_txt_run_checkpoint(run_nb, tmp_path, text):
    "A local .txt, a BPE tokenizer, and the run directory's 04_train checkpoint (an untrained GPT saved there)."
    from llmbench.data import prepare_data
    from llmbench.models import build_model
    f = tmp_path/'corpus.txt'; f.write_text(text, encoding='utf-8')
    data = prepare_data(str(f), 'bpe:300')
    run = tmp_path/'run'
    build_model('gpt', data.vocab_size, n_layer=1, n_head=2, n_embd=16, block_size=32).save_pretrained(run/'04_train'/'checkpoints'/'best')
    r = run_nb('07_metrics', run_dir=run, corpus=str(f), tokenizer='bpe:300', train_steps=0, eval_split='val', stride=16,
               n_continuations=6, prompt_len=5, cont_len=5, prefix='eos')
    assert (run/'07_metrics'/'results.json').is_file() and (run/'07_metrics'/'bits_per_byte.png').is_file()
    assert r['data']['tokenizer'] == 'bpe:300' and r['data']['split'] == 'val'
    assert r['model']['source'].startswith('checkpoint') and r['model']['context_length'] == 32 and r['model']['trained_steps'] == 0
    p = r['perplexity']
    assert p['stride'] == 16 and p['prefix'] is not None and p['n_predicted'] == p['n_tokens']
    assert p['token_perplexity'] == pytest.approx(math.exp(p['nll'] / p['n_predicted']))
    assert p['token_perplexity'] > 100    # an untrained model on a 300-token vocabulary is near uniform
    assert r['architectures']['lstm']['source'] == 'lstm, randomly initialised (not trained)'
    assert r['continuation']['n'] == 6


# ---- reliability (issue 12) ----------------------------------------------------------------------------------

@pytest.mark.parametrize('call,msg', [
    (lambda: bleu(None, ['a']), "hyps: None; pass a list of hypothesis strings"),
    (lambda: bleu(5, ['a']), "hyps: a int is not a list; pass a list of hypothesis strings"),
    (lambda: bleu(['a'], [None]), r"refs[0]: None; each hypothesis needs at least one reference string"),
    (lambda: bleu(['a'], None), "refs / ref_streams: pass exactly one of them"),
    (lambda: bleu(['a'], 7), "refs: a int is not a list"),
    (lambda: bleu(['a'], ref_streams=[[None]]), "ref_streams[0][0]: None"),
    (lambda: bleu(['a'], ['a'], tokenize='moses'), "tokenize='moses': unknown; use one of none, zh, 13a, intl, char"),
    (lambda: bleu(['a'], ['a'], smooth_method='laplace'),
     "smooth_method='laplace': unknown; use one of none, floor, add-k, exp"),
    (lambda: chrf(['a'], ['a'], char_order=0), "char_order=0: must be a positive integer"),
    (lambda: chrf(['a'], ['a'], beta=-1), "beta=-1: must be a number > 0"),
])
def test_metric_arguments_are_checked(call, msg):
    with pytest.raises(LLMBenchError) as e: call()
    assert msg in str(e.value), str(e.value)


@pytest.mark.parametrize('kw,msg', [
    (dict(level=2), "level=2: must be between 0 and 1 (exclusive), e.g. level=0.95"),
    (dict(level=0), "level=0: must be between 0 and 1"),
    (dict(n_boot=-5), "n_boot=-5: must be an integer >= 0 (0 = no interval)"),
    (dict(n_boot=2.5), "n_boot=2.5: must be an integer >= 0"),
    (dict(max_docs=-1), "max_docs=-1: must be an integer >= 0 (0 = all documents)"),
    (dict(max_length=1000),
     "max_length=1000: longer than the model's context of 64 tokens; pass max_length <= 64 or None"),
    (dict(max_length=0), "max_length=0: must be a positive integer"),
    (dict(stride=0), "stride=0: must be between 1 and the context length 64"),
    (dict(batch_size=0), "batch_size=0: must be a positive integer"),
])
def test_perplexity_arguments_are_checked(gpt2, bpe, kw, msg):
    with pytest.raises(LLMBenchError) as e: perplexity(gpt2, bpe, ['some text here', 'and another document'], **kw)
    assert msg in str(e.value), str(e.value)


def test_bootstrap_ci_arguments_are_checked():
    st = np.ones((4, 4))
    with pytest.raises(LLMBenchError, match='level=1.5'): bootstrap_ci(st, level=1.5)
    with pytest.raises(LLMBenchError, match='n_boot=-1'): bootstrap_ci(st, n_boot=-1)
    assert bootstrap_ci(st, n_boot=0) == {}


def test_nothing_predicted_reports_nan_for_every_figure(gpt2, bpe):
    "A one-token text has no predicted token: no figure may read as a perfect score (bits per byte 0, perplexity 1)."
    one = 'x'
    assert len(bpe.encode(one, add_special_tokens=False)) == 1
    r = perplexity(gpt2, bpe, [one, one])
    assert r.n_predicted == 0 and r.n_bytes == 2
    for k in ('token_perplexity', 'bits_per_byte', 'word_perplexity', 'byte_perplexity', 'nll_per_token'):
        assert math.isnan(getattr(r, k)), (k, getattr(r, k))
    assert 'no token was predicted' in r.unit and r.ci == {}
    assert all(v is None or not isinstance(v, float) or math.isnan(v) for k, v in r.to_dict().items()
               if k in ('token_perplexity', 'bits_per_byte', 'word_perplexity', 'byte_perplexity'))


def test_checkpoint_without_tokenizer_files_is_named(gpt2, tmp_path):
    "A model folder with no tokenizer beside it: say which folder and which files, not sentencepiece/tiktoken advice."
    gpt2.save_pretrained(tmp_path)
    with pytest.raises(LLMBenchError) as e: perplexity(str(tmp_path), None, ['some text here'])
    msg = str(e.value)
    assert f'tokenizer folder {tmp_path}: has no tokenizer files (expected tokenizer.json' in msg, msg
