"The evaluation study: checkpoints found and deduplicated, intervals and paired tests, the notebook alone and on a run."
import numpy as np, pytest, torch
from llmbench.core import LLMBenchError
from llmbench.evaluate import find_checkpoints, dedupe_checkpoints, open_checkpoint, paired_bpb, score_interval, cut_to_reference


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def save_ckpt(d, arch='gpt', seed=0, tokenizer=True):
    from llmbench.data import build_tokenizer
    from llmbench.models import build_model
    tok = build_tokenizer('char', ['hello world, some text'])
    torch.manual_seed(seed)
    m = build_model(arch, len(tok), 1, 2, 16, 16)
    d.mkdir(parents=True, exist_ok=True); m.save_pretrained(d)
    if tokenizer: tok.save_pretrained(d)
    return d


def test_find_and_dedupe(tmp_path):
    run = tmp_path/'run'
    save_ckpt(run/'04_train'/'checkpoints'/'best'); save_ckpt(run/'04_train'/'checkpoints'/'last')
    save_ckpt(run/'05_architectures'/'lstm'/'checkpoints'/'best', 'lstm')
    save_ckpt(run/'04_train'/'checkpoints'/'.best.tmp') # an interrupted write: ignored
    found = find_checkpoints(run)
    assert list(found) == ['04_train/best', '04_train/last', '05_architectures/lstm/best']
    assert list(find_checkpoints(run, ('last',))) == ['04_train/last']
    kept, same = dedupe_checkpoints(found)
    assert list(kept) == ['04_train/best', '05_architectures/lstm/best'] and same == {'04_train/last': '04_train/best'}
    m, tok = open_checkpoint(found['05_architectures/lstm/best'])
    assert m.config.llmbench_arch == 'lstm' and len(tok) > 5
    with pytest.raises(LLMBenchError, match='run_dir'): find_checkpoints(tmp_path/'nope')
    with pytest.raises(LLMBenchError, match='tokenizer'): open_checkpoint(save_ckpt(tmp_path/'notok', tokenizer=False))


def test_intervals_and_paired():
    import sacrebleu
    h, r = ['the cat sat on the mat', 'a dog barked loudly', 'hello there'], ['the cat sat on a mat', 'the dog barked', 'hello here']
    b = score_interval('chrf', h, r, 100, seed=1)
    assert b['score'] == pytest.approx(sacrebleu.corpus_chrf(h, [r]).score) and b['ci95'][0] <= b['mean'] <= b['ci95'][1]
    assert score_interval('chrf', h, r, 100, seed=1) == b # seeded
    assert cut_to_reference(h, r) == ['the cat sat on the mat', 'a dog barked', 'hello there']
    rng = np.random.default_rng(0)
    a = np.c_[rng.uniform(50, 100, 30), rng.integers(40, 80, 30), rng.integers(60, 120, 30), rng.integers(10, 20, 30)]
    worse = a.copy(); worse[:, 0] *= 1.2
    p = paired_bpb(a, worse, 500)
    assert p['difference'] > 0 and p['ci95'][0] > 0 and p['p_value'] < 0.01
    noisy = a.copy(); noisy[:, 0] *= rng.normal(1, 0.05, 30) # no systematic difference
    assert paired_bpb(a, noisy, 500)['p_value'] > 0.05
    assert paired_bpb(a, a, 100)['p_value'] == 1.0
    with pytest.raises(LLMBenchError, match='same documents'): paired_bpb(a, a[:10])


def test_notebook_alone(run_nb):
    r = run_nb('08a_evaluate')
    assert r['origin'] == 'trained here' and set(e['arch'] for e in r['evaluations'].values()) == {'gpt', 'lstm'}
    for e in r['evaluations'].values():
        assert e['token_perplexity_ci'][0] <= e['token_perplexity'] <= e['token_perplexity_ci'][1]
        assert e['bits_per_byte_ci'][0] <= e['bits_per_byte'] <= e['bits_per_byte_ci'][1]
        assert 0 <= e['chrf']['score'] <= 100 and len(e['chrf']['ci95']) == 2 and e['bleu']['n_boot'] == 200 and 'tok:13a' in e['bleu']['signature']
    assert r['ranking'][0] == min(r['evaluations'], key=lambda n: r['evaluations'][n]['bits_per_byte'])
    s = r['significance']
    assert s['best'] == r['ranking'][0] and 0 < s['bits_per_byte']['p_value'] <= 1 and 'chrf' in s
    assert r['conclusion'].startswith(f"best by bits per byte: {r['ranking'][0]}")


def test_notebook_on_run_dir(run_nb, tmp_path):
    run = tmp_path/'run'
    save_ckpt(run/'04_train'/'checkpoints'/'best', 'gpt', 0)
    save_ckpt(run/'04_train'/'checkpoints'/'last', 'gpt', 1)
    save_ckpt(run/'05_architectures'/'cnn'/'checkpoints'/'best', 'cnn', 2)
    r = run_nb('08a_evaluate', run_dir=str(run), max_docs=12, n_continuations=8, cont_len=4, n_boot=100)
    assert r['origin'] == 'run directory'
    assert set(r['evaluations']) == {'04_train/best', '04_train/last', '05_architectures/cnn/best'}
    assert r['n_continuations'] == 8 and r['significance']['best'] == r['ranking'][0]
    assert (run/'08a_evaluate'/'evaluation.png').is_file()
