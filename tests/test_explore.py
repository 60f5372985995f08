"Data exploration (`llmbench.explore`): statistics on hand-checkable texts, fits on synthetic laws, duplicates, browser, notebook runs."
import collections, os, random, sys
from pathlib import Path
import numpy as np
import pytest
from llmbench.core import LLMBenchError
from llmbench import explore as ex


def _char_tokenizer(chars, unk=True):
    "A real character-level `tokenizers` model wrapped as `PreTrainedTokenizerFast`."
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders
    from transformers import PreTrainedTokenizerFast
    vocab = {c: i for i, c in enumerate((['[UNK]'] if unk else []) + list(chars))}
    t = Tokenizer(models.WordLevel(vocab, unk_token='[UNK]' if unk else None))
    t.pre_tokenizer = pre_tokenizers.Split('', 'isolated'); t.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=t, unk_token='[UNK]' if unk else None)


def _bytelevel_bpe(texts, vocab_size=300):
    "A real byte-level BPE trained with `tokenizers` (no unknowns possible)."
    from tokenizers import Tokenizer, models, trainers, pre_tokenizers, decoders
    from transformers import PreTrainedTokenizerFast
    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False); t.decoder = decoders.ByteLevel()
    t.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    return PreTrainedTokenizerFast(tokenizer_object=t)


def test_text_stats_by_hand():
    s = ex.text_stats(["Zoë's cat", "the  cat", "ÿ"])
    # words: zoë, s, cat | the, cat | ÿ  -> 6 words, 5 unique; chars 9+8+1; bytes: ë and ÿ are 2 bytes each
    assert (s['n_docs'], s['n_chars'], s['n_bytes'], s['n_words'], s['n_unique_words']) == (3, 18, 20, 6, 5)
    assert s['chars_per_doc_max'] == 9 and s['chars_per_doc_median'] == 8.0
    assert ex.text_stats(["A a"], lower=False)['n_unique_words'] == 2
    with pytest.raises(LLMBenchError, match=r'texts\[1\]'): ex.text_stats(["ok", b"bytes"])


def test_token_stats_char_and_bpe():
    tok = _char_tokenizer('ab ')
    s = ex.token_stats(tok, ["ab ba", "aaé"])
    assert (s['n_tokens'], s['n_unk'], s['vocab_size'], s['vocab_used']) == (8, 1, 4, 4)
    assert s['bytes_per_token'] == pytest.approx(9 / 8) and s['chars_per_token'] == pytest.approx(1.0)
    assert s['roundtrip_rate'] == pytest.approx(0.5)   # 'aaé' decodes with [UNK]
    texts = ["the quick brown fox jumps over the lazy dog"] * 20 + ["naïve café"]
    bpe = _bytelevel_bpe(texts)
    b = ex.token_stats(bpe, texts)
    assert b['n_unk'] == 0 and b['roundtrip_rate'] == 1.0 and not b['has_unk_token']
    assert b['bytes_per_token'] > 3   # merges learned on repeated text compress it well beyond 1 byte/token
    cmp = ex.compare_tokenizers({'char': tok, 'bpe': bpe}, ["the lazy dog"])
    assert cmp['char']['n_tokens'] == 12 and cmp['char']['n_unk'] == 9 and cmp['bpe']['n_tokens'] < 5


def test_stats_table_rows():
    tok = _char_tokenizer('abc ')
    st = {sp: {**ex.text_stats(v), 'tokens': {'char': ex.token_stats(tok, v)}} for sp, v in {'train': ["abc", "ab"], 'val': ["c"]}.items()}
    rows = ex.stats_table(st)
    assert [r['split'] for r in rows] == ['train', 'val']
    assert rows[0]['tokens[char]'] == 5 and rows[0]['bytes/token[char]'] == 1.0 and rows[1]['docs'] == 1


def test_zipf_exponent_recovered():
    exact = {f'w{r}': round(1e6 * r**-0.9) for r in range(1, 2000)}
    assert ex.fit_zipf(exact, 1, 1000)['exponent'] == pytest.approx(0.9, abs=1e-3)
    rng = np.random.default_rng(1)
    p = np.arange(1, 20001, dtype=float)**-1.0; p /= p.sum()
    text = ' '.join(f'w{i}' for i in rng.choice(len(p), size=300_000, p=p))
    f = ex.fit_zipf(ex.word_counts([text]), 1, 300)
    assert f['exponent'] == pytest.approx(1.0, abs=0.05) and f['r2'] > 0.98 and f['rank_max'] == 300
    assert ex.fit_zipf(exact, 1, None)['rank_max'] == 1999
    with pytest.raises(LLMBenchError, match='zipf_rank_min'): ex.fit_zipf(exact, 0, 10)
    with pytest.raises(LLMBenchError, match='word types'): ex.fit_zipf({'a': 2, 'b': 1}, 1, 10)


def test_heaps_fit_recovered():
    target = np.ceil(5 * np.arange(1, 20001)**0.5).astype(int)
    stream, k = [], 0
    for v in target:
        if v > k: k += 1; stream.append(f'x{k}')
        else: stream.append('x1')
    n, v = ex.heaps_curve([' '.join(stream)], n_points=40)
    assert v[-1] == target[-1] and n[-1] == 20000 and len(n) <= 40
    fit = ex.fit_heaps(n, v, 200)
    assert fit['beta'] == pytest.approx(0.5, abs=0.01) and fit['K'] == pytest.approx(5, rel=0.05) and fit['n_min'] >= 200
    n0, v0 = ex.heaps_curve([])
    assert len(n0) == 0
    with pytest.raises(LLMBenchError, match='heaps_min_words'): ex.fit_heaps(n0, v0, 100)


def test_scripts_and_categories():
    d = ex.script_distribution(["Ab 1", "Ωμ ж", "日本!"])
    assert d == {'LATIN': 2, 'GREEK': 2, 'whitespace': 2, 'CJK': 2, 'digit': 1, 'CYRILLIC': 1, 'punctuation': 1}
    assert ex.char_class('\u0301') == 'COMBINING' and ex.char_class('€') == 'symbol' and ex.char_class('\t') == 'whitespace'


def test_top_ngrams():
    docs = ["to be or not to be", "To be"]
    assert ex.top_ngrams(docs, 2, 3) == [('to be', 3), ('be or', 1), ('or not', 1)]
    assert ex.top_ngrams(docs, 1, 1) == [('to', 3)]
    assert ex.top_ngrams(["aaa"], 2, unit='char') == [('aa', 2)]
    with pytest.raises(LLMBenchError, match="unit"): ex.top_ngrams(docs, 2, unit='byte')


def _known_dup_corpus():
    r = random.Random(7); vocab = [f'tok{i}' for i in range(500)]
    base = [' '.join(r.choice(vocab) for _ in range(80)) for _ in range(40)]
    near1 = base[2].split(); near1[40] = 'edited'                          # one word changed
    near2 = base[9] + ' and a short tail'                                 # small addition
    extra = [base[1], base[1], ' '.join(near1), near2, base[30].replace(' ', '\n')]
    return base + extra


def test_duplicate_rates_known():
    docs = _known_dup_corpus()
    d = ex.duplicate_stats(docs, threshold=0.8)
    # 2 exact copies of base[1]; near: the edited, extended and re-spaced copies
    assert (d['n_docs'], d['n_exact'], d['n_near']) == (45, 2, 3)
    assert d['duplicate_of'][40:] == [1, 1, 2, 9, 30] and d['duplicate_of'][:40] == [-1] * 40
    assert d['duplicate_rate'] == pytest.approx(5 / 45) and d['exact_rate'] == pytest.approx(2 / 45)
    assert [(e['doc'], e['duplicate_of'], e['kind']) for e in d['examples']] == [(40, 1, 'exact'), (41, 1, 'exact'), (42, 2, 'near'), (43, 9, 'near'), (44, 30, 'near')]
    assert all(e['similarity'] >= 0.8 for e in d['examples'])
    distinct = ex.duplicate_stats(docs[:40])
    assert distinct['n_duplicates'] == 0
    with pytest.raises(LLMBenchError, match='dup_num_perm'): ex.duplicate_stats(docs, num_perm=4)


def test_overlap_leakage():
    docs = _known_dup_corpus()
    o = ex.overlap_stats(docs[:20], [docs[1], docs[42], docs[25], "unrelated"])
    assert (o['n_queries'], o['n_exact'], o['n_near']) == (4, 1, 1) and o['overlap_rate'] == pytest.approx(0.5)


def test_browser_pure_functions():
    docs = ["Alpha beta", "beta gamma delta", "GAMMA", "x" * 50]
    assert ex.search_docs(docs, 'gamma') == [1, 2] and ex.search_docs(docs, 'gamma', case=True) == [1]
    assert ex.search_docs(docs, r'^[A-Z]+$', regex=True, case=True) == [2]
    assert ex.search_docs(docs, '') == [0, 1, 2, 3]
    with pytest.raises(LLMBenchError, match=r"search '\['"): ex.search_docs(docs, '[', regex=True)
    assert ex.filter_length(docs, 5, 16) == [0, 1, 2] and ex.filter_length(docs, 20) == [3]
    picks = [ex.random_doc(range(100), seed=s) for s in range(5)]
    assert picks == [ex.random_doc(range(100), seed=s) for s in range(5)] and len(set(picks)) > 1
    assert ex.random_doc([], seed=1) is None
    b = ex.CorpusBrowser(docs, names=['a', 'b', 'c', 'd'], seed=0)
    assert b.matches('beta', max_chars=12) == [0]
    h = b.html('gamma')
    assert '2 match' in h and '<mark>GAMMA</mark>' in h and '<b>b</b>' in h
    assert '<mark>' not in ex.doc_html('a<b>', '') and '&lt;b&gt;' in ex.doc_html('a<b>')
    assert type(b.show(headless=True, query='beta')).__name__ == 'HTML'


def test_browser_widget_reacts():
    docs = ["Alpha beta", "beta gamma delta", "GAMMA", "x" * 50]
    b = ex.CorpusBrowser(docs, seed=3)
    w = b.show(headless=False, query='beta')
    assert type(w).__name__ == 'VBox' and b._m == [0, 1] and '<mark>beta</mark>' in b.view.value
    b.search.value = 'gamma'; assert b._m == [1, 2] and '2 of 4' in b.info.value
    b.pick.value = 1; assert 'GAMMA' in b.view.value
    b.length.value = (0, 10); assert b._m == [2]
    b.search.value = ''; b.button.click(); assert b._m[b.pick.value] in b._m
    b.regex.value = True; b.search.value = '('; assert b._m == [] and 'regular expression' in b.info.value


def test_is_headless_env(monkeypatch):
    monkeypatch.setenv('LLMBENCH_HEADLESS', '0'); assert not ex.is_headless()
    monkeypatch.setenv('LLMBENCH_HEADLESS', '1'); assert ex.is_headless()
    monkeypatch.delenv('LLMBENCH_HEADLESS'); assert ex.is_headless()   # plain Python: no kernel


def test_is_headless_in_a_kernel(monkeypatch):
    "A live frontend sends allow_stdin=True (JupyterLab does) and gets the widget; nbclient/papermill sends False and gets HTML."
    jc = pytest.importorskip('jupyter_client')
    monkeypatch.delenv('LLMBENCH_HEADLESS', raising=False)
    km, kc = jc.manager.start_new_kernel(kernel_name='python3')
    try:
        def run(code, allow):
            msg_id = kc.execute(code, allow_stdin=allow); out, data = [], {}
            while True:
                m = kc.get_iopub_msg(timeout=60)
                if m['parent_header'].get('msg_id') != msg_id: continue
                t = m['msg_type']
                if t == 'stream': out.append(m['content']['text'])
                elif t in ('execute_result', 'display_data'): data.update(m['content']['data'])
                elif t == 'error': raise AssertionError(m['content']['evalue'])
                elif t == 'status' and m['content']['execution_state'] == 'idle': return ''.join(out).strip(), data
        run("from llmbench.explore import is_headless, CorpusBrowser; b = CorpusBrowser(['a cat', 'a dog'])", False)
        assert run("print(is_headless())", True)[0] == 'False' and run("print(is_headless())", False)[0] == 'True'
        live = run("b.show(query='cat')", True)[1]
        assert 'application/vnd.jupyter.widget-view+json' in live
        static = run("b.show(query='cat')", False)[1]
        assert 'application/vnd.jupyter.widget-view+json' not in static and '<mark>cat</mark>' in static['text/html']
    finally:
        kc.stop_channels(); km.shutdown_kernel(now=True)


def test_notebook_smoke(run_nb, tmp_path):
    res = run_nb('02_explore', run_dir=tmp_path)
    st = res['stats']
    assert set(st) == {'train', 'val', 'test', 'all'} and res['tokenizers'] == ['char', 'bpe:512']
    assert st['all']['n_docs'] == sum(st[s]['n_docs'] for s in ('train', 'val', 'test')) > 20
    for sp in ('train', 'val', 'test', 'all'):
        assert st[sp]['n_bytes'] >= st[sp]['n_chars'] > st[sp]['n_words'] >= st[sp]['n_unique_words'] > 0
        char, bpe = st[sp]['tokens']['char'], st[sp]['tokens']['bpe:512']
        assert char['chars_per_token'] == 1.0 and char['n_tokens'] == st[sp]['n_chars']   # one token per character, unknowns too
        assert bpe['bytes_per_token'] > 1.5 * char['bytes_per_token'] and bpe['n_unk'] == 0 and bpe['roundtrip_rate'] == 1.0
    assert st['train']['tokens']['char']['n_unk'] == 0   # the char vocabulary is built on the train split
    assert res['comparison_split'] == 'val' and res['best_compression'] == 'bpe:512'
    assert 0.7 < res['zipf']['exponent'] < 1.5 and res['zipf']['r2'] > 0.9 and res['zipf']['rank_min'] == 1
    assert 0.3 < res['heaps']['beta'] < 0.9 and res['heaps']['r2'] > 0.9
    assert max(res['scripts'], key=res['scripts'].get) == 'LATIN' and sum(res['scripts'].values()) == pytest.approx(1)
    assert len(res['top_ngrams']) == 15 and all(len(g.split()) == 2 for g, _ in res['top_ngrams'])
    assert 0 <= res['duplicates']['duplicate_rate'] < 0.2 and set(res['leakage']) == {'val', 'test'}
    assert res['browser']['headless'] is True
    out = tmp_path/'02_explore'
    assert {f for f in res['figures']} == {'tokenizers.png', 'doc_lengths.png', 'zipf.png', 'heaps.png', 'scripts.png', 'ngrams.png'}
    assert all((out/f).stat().st_size > 1000 for f in res['figures'])
    nb = (out/'02_explore.ipynb').read_text()
    assert 'Corpus browser (static)' in nb and 'application/vnd.jupyter.widget-view+json' not in nb


def test_notebook_local_jsonl_with_known_duplicates(run_nb, tmp_path, monkeypatch):
    import json
    monkeypatch.setenv('LLMBENCH_PATHS_CACHE_DIR', str(tmp_path/'cache'))   # datasets' cache of the .jsonl stays in the test
    r = random.Random(3); en = [f'word{i}' for i in range(400)]; ru = ['мир', 'дом', 'кот', 'лес', 'снег', 'река', 'город', 'небо']
    docs = [' '.join(r.choice(en) for _ in range(70)) for _ in range(24)]
    near = docs[5].split(); near[30] = 'edited'
    docs += [docs[0], docs[0], ' '.join(near)] + [' '.join(r.choice(ru) for _ in range(70)) + f' {i}' for i in range(3)]
    f = tmp_path/'corpus.jsonl'
    f.write_text(''.join(json.dumps({'body': d, 'id': i}, ensure_ascii=False) + '\n' for i, d in enumerate(docs)), encoding='utf-8')
    res = run_nb('02_explore', run_dir=tmp_path/'run', corpus=str(f), text_field='body', split='doc:0.6/0.2/0.2', data_seed=1,
                 tokenizers='char, bpe:300', ngram_n=3, top_k=5, max_docs=0, zipf_rank_max=200, heaps_min_words=50)
    assert res['data'] == dict(corpus=str(f), text_field='body', split='doc:0.6/0.2/0.2', seed=1, encoding_errors='strict')
    assert res['stats']['all']['n_docs'] == 30 and res['tokenizers'] == ['char', 'bpe:300']
    d = res['duplicates']
    assert (d['n_exact'], d['n_near'], d['n_duplicates']) == (2, 1, 3)
    assert res['scripts']['CYRILLIC'] > 0.03 and max(res['scripts'], key=res['scripts'].get) == 'LATIN'
    assert len(res['top_ngrams']) == 5 and all(len(g.split()) == 3 for g, _ in res['top_ngrams'])
    assert res['zipf']['rank_max'] == 200
    assert res['stats']['all']['tokens']['bpe:300']['vocab_size'] == 300



@pytest.mark.hub
@pytest.mark.skipif(os.environ.get('LLMBENCH_TEST_HUB') != '1',
                    reason='needs the Hugging Face hub (network); set LLMBENCH_TEST_HUB=1 on a machine that reaches it')
def test_notebook_hub_tokenizer(run_nb, tmp_path):
    res = run_nb('02_explore', run_dir=tmp_path, tokenizers='char,hf:gpt2')
    g = res['tokenizer_comparison']['hf:gpt2']
    assert g['vocab_size'] >= 50257 and g['n_unk'] == 0 and g['roundtrip_rate'] == 1.0 and g['bytes_per_token'] > 3
    assert res['best_compression'] == 'hf:gpt2'
