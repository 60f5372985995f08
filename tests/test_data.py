"Data layer: corpora, splits, tokenizers, cache, batching, bad input, and the 01_data notebook."
import json, os
from pathlib import Path
import numpy as np
import pytest, torch
from llmbench.core import LLMBenchError
from llmbench.data import (load_corpus, split_corpus, build_tokenizer, prepare_data, LMData, read_text_chunks,
                           SPLITS, EMBEDDED)
from llmbench.bench import make_text_file

PROSE = ("It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness, "
         "naïve café owners said 漢字 ünïcödé.\n")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    "An empty llmbench cache for the test (the notebook kernels inherit it through the environment)."
    c = tmp_path/'cache'
    monkeypatch.setenv('LLMBENCH_PATHS_CACHE_DIR', str(c))
    return c


def _entries(cache):
    "Cache entries and anything else (temporary folders) in the data cache."
    d = cache/'data'
    return sorted(p.name for p in d.iterdir() if p.name != 'index') if d.exists() else []


def _docs_folder(tmp_path, n=30, dup=3):
    d = tmp_path/'docs'; d.mkdir()
    for i in range(n): (d/f'd{i:02}.txt').write_text(f"document {i}: " + PROSE * (1 + i % 3))
    for j in range(dup): (d/f'dup{j}.txt').write_text("the very same text in three files\n")
    return d


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize('setup,spec,kw,msg', [
    (None, 'missing.txt', {}, 'no such file or folder'),
    (lambda d: (d/'empty.txt').write_text(''), 'empty.txt', {}, 'empty file'),
    (lambda d: (d/'x.docx').write_text('x'), 'x.docx', {}, "unsupported extension '.docx'"),
    (lambda d: (d/'b.jsonl').write_text('{"text": "a"}\n{"text": "b"}\n{"text": "c",}\n'), 'b.jsonl', {}, 'line 3 is not valid JSON'),
    (lambda d: (d/'f.jsonl').write_text('{"body": "a"}\n'), 'f.jsonl', {}, "no field 'text' (fields: body)"),
    (lambda d: (d/'f.jsonl').write_text('{"body": "a"}\n'), 'f.jsonl', {'text_field': 'content'}, "no field 'content'"),
    (lambda d: (d/'n.jsonl').write_text('{"text": "a"}\n{"text": null}\n'), 'n.jsonl', {}, "row 2 has no 'text' value"),
    (lambda d: (d/'i.csv').write_text('text,n\n5,1\n'), 'i.csv', {}, "row 1 field 'text' is int"),
    (lambda d: (d/'u.txt').write_bytes(b'good text\n' * 10 + b'\xff\xfe bad'), 'u.txt', {}, 'invalid UTF-8 at byte offset 100'),
    (lambda d: (d/'e.jsonl').write_text('{"text": ""}\n{"text": "   "}\n'.replace('"   "', '""')), 'e.jsonl', {}, 'no text'),
    (None, 'embedded:shakespeare', {}, "unknown embedded corpus; use one of embedded:python-docs"),
    (None, 'embedded:python-docs', {'tokenizer': 'wordpiece:100'}, "tokenizer 'wordpiece:100': unknown"),
    (None, 'embedded:python-docs', {'tokenizer': 'bpe:lots'}, "tokenizer 'bpe:lots'"),
    (None, 'embedded:python-docs', {'split': 'doc:0.8/0.1'}, "split 'doc:0.8/0.1'"),
    (None, 'embedded:python-docs', {'encoding_errors': 'loose'}, "encoding_errors='loose'"),
    (None, 'hf:', {}, 'no dataset id'),
    (lambda d: (d/'emptydir').mkdir(), 'emptydir', {}, 'the folder holds no .txt/.jsonl'),
])
def test_bad_input_names_the_culprit_and_leaves_no_cache_entry(tmp_path, cache, setup, spec, kw, msg):
    if setup: setup(tmp_path)
    corpus = spec if ':' in spec else str(tmp_path/spec)
    args = dict(tokenizer='char', split='auto', seed=0) | kw
    with pytest.raises(LLMBenchError, match=None) as e: prepare_data(corpus, **args)
    assert msg in str(e.value), str(e.value)
    if ':' not in spec and 'no such' not in msg: assert spec in str(e.value)  # names the file
    assert _entries(cache) == []


def test_split_smaller_than_a_window(tmp_path, cache):
    (tmp_path/'s.txt').write_text('x' * 1000)
    data = prepare_data(str(tmp_path/'s.txt'), 'char', 'tail:0.1', 0)
    data.check_block_size(40, 'val')
    with pytest.raises(LLMBenchError, match=r"split 'val' .* 50 tokens, fewer than one window \(block_size=64 \+ 1\); use block_size <= 49"):
        data.get_batch('val', 2, 64)


def test_failure_mid_build_leaves_no_half_written_entry(tmp_path, cache, monkeypatch):
    import llmbench.data as D
    calls = []
    def boom(self, s, ev):
        calls.append(1)
        if len(calls) > 5: raise RuntimeError('disk full (simulated)')
        return orig(self, s, ev)
    orig = D._Writer.add
    monkeypatch.setattr(D._Writer, 'add', boom)
    with pytest.raises(RuntimeError, match='simulated'): prepare_data('embedded:python-docs', 'char', 'auto', 0)
    assert _entries(cache) == [] and not list((cache/'data').glob('index/*'))
    monkeypatch.setattr(D._Writer, 'add', orig)
    assert prepare_data('embedded:python-docs', 'char', 'auto', 0).from_cache is False
    assert len(_entries(cache)) == 1


def test_invalid_utf8_offset_across_chunks_and_replace(tmp_path):
    p = tmp_path/'u.txt'; p.write_bytes('é'.encode() * 5000 + b'\x80' + b'z' * 10)
    with pytest.raises(LLMBenchError, match=f'{p}: invalid UTF-8 at byte offset 10000'): list(read_text_chunks(p, chunk_bytes=333))
    assert ''.join(read_text_chunks(p, 'replace', chunk_bytes=333)) == 'é' * 5000 + '\ufffd' + 'z' * 10


def test_one_line_of_100mb_streams_with_bounded_memory(tmp_path, cache):
    "A single 100 MB line: prepared in bounded chunks (no line ever held whole by the reader)."
    import resource
    p = tmp_path/'line.txt'
    word = b'abcdefghi '
    with open(p, 'wb') as f:
        for _ in range(100): f.write(word * 100_000)  # 100 x 1 MB, no newline
    import transformers, tokenizers; from transformers import PreTrainedTokenizerFast  # libraries' own memory not counted
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    data = prepare_data(str(p), 'char', 'tail:0.1', 0)
    grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    assert data.n_tokens('train') == 90_000_000 and data.n_bytes('val') + data.n_bytes('test') == 10_000_000
    assert grew < 300, f'peak RSS grew by {grew:.0f} MB'  # the text (100 MB, 400 MB as UCS-4) is never whole in memory
    assert data.tokens('train')[-5:].tolist() == data.tokenizer.encode('fghi ', add_special_tokens=False)


# ---------------------------------------------------------------- corpora and splits

def test_local_formats_and_text_field(tmp_path):
    import pandas as pd
    d = tmp_path/'mix'; d.mkdir()
    (d/'a.txt').write_text('plain text file')
    (d/'b.jsonl').write_text('\n'.join(json.dumps({'body': f'json row {i}', 'id': i}) for i in range(3)) + '\n')
    pd.DataFrame({'body': ['csv row']}).to_csv(d/'c.csv', index=False)
    pd.DataFrame({'body': ['parquet row']}).to_parquet(d/'d.parquet')
    (d/'.hidden.txt').write_text('skipped')
    c = load_corpus(str(d), text_field='body')
    assert list(c) == ['plain text file', 'json row 0', 'json row 1', 'json row 2', 'csv row', 'parquet row']
    assert list(load_corpus(str(d/'*.jsonl'), text_field='body')) == ['json row 0', 'json row 1', 'json row 2']


def test_doc_split_is_deterministic_and_duplicates_never_straddle(tmp_path):
    d = _docs_folder(tmp_path)
    c = load_corpus(str(d))
    sp = {k: list(v) for k, v in split_corpus(c, 'doc:0.6/0.2/0.2', seed=3).items()}
    assert sp == {k: list(v) for k, v in split_corpus(str(d), 'doc:0.6/0.2/0.2', seed=3).items()}
    assert sp != {k: list(v) for k, v in split_corpus(str(d), 'doc:0.6/0.2/0.2', seed=4).items()}
    dup = "the very same text in three files\n"
    homes = [k for k, v in sp.items() if dup in v]
    assert len(homes) == 1 and sp[homes[0]].count(dup) == 3
    assert sorted(sum(sp.values(), [])) == sorted(c)           # every document exactly once
    assert [len(set(v)) for v in sp.values()] == [19, 6, 6]     # 31 distinct: round(6.2)=6 val, 6 test


def test_auto_split_and_tail(tmp_path):
    assert prepare_data(str(_docs_folder(tmp_path)), 'char', 'auto', 0).meta['split'] == 'doc:0.9/0.05/0.05'
    p = tmp_path/'one.txt'; p.write_text('0123456789' * 100)
    sp = split_corpus(str(p), 'auto')
    assert [''.join(sp[k]) for k in SPLITS] == ['0123456789' * 90, '0123456789' * 5, '0123456789' * 5]
    sp = split_corpus(str(p), 'tail:0.1/0')
    assert [''.join(sp[k]) for k in SPLITS] == ['0123456789' * 90, '0123456789' * 10, '']


def test_tail_cut_respects_characters(tmp_path):
    p = tmp_path/'u.txt'; p.write_text('é' * 100)  # 200 bytes, cut at an odd byte
    sp = split_corpus(str(p), 'tail:0.105/0')
    tr, va = ''.join(sp['train']), ''.join(sp['val'])
    assert tr + va == 'é' * 100 and len(va) in (10, 11)


def test_embedded_corpora_are_offline_and_distinct():
    docs, code = load_corpus('embedded:python-docs'), load_corpus('embedded:python-code')
    assert docs.n_docs == 79 and docs.n_bytes > 400_000
    assert code.n_docs > 100 and code.n_bytes > 2_000_000
    assert 'def ' in next(iter(code)) and docs.hash != code.hash
    assert set(EMBEDDED) >= {'python-docs', 'python-code', 'python-docstrings', 'licenses'}


# ---------------------------------------------------------------- tokenizers, arrays, cache, batching

@pytest.mark.parametrize('tok', ['char', 'bpe:300'])
def test_prepare_roundtrip_cache_and_offsets(tmp_path, cache, tok):
    d = _docs_folder(tmp_path)
    data = prepare_data(str(d), tok, 'doc:0.6/0.2/0.2', 0)
    assert not data.from_cache and data.tokenizer.eos_token_id == data.eos_id == 0
    again = prepare_data(str(d), tok, 'doc:0.6/0.2/0.2', 0)
    assert again.from_cache and again.dir == data.dir and again.seconds < 1
    for s in SPLITS:
        toks, off = data.tokens(s), data.doc_offsets(s)
        assert isinstance(toks, np.memmap) and toks.dtype == np.uint16 and off[-1] == len(toks) == data.n_tokens(s)
        assert all(toks[b - 1] == data.eos_id for b in off[1:])     # documents joined by <|endoftext|>
        texts = list(data.texts(s))
        assert texts == list(split_corpus(str(d), 'doc:0.6/0.2/0.2', 0)[s])  # lossless round trip (train chars cover val/test here)
        assert data.n_bytes(s) == sum(len(t.encode()) for t in texts)
        ids = [i for t in texts for i in data.tokenizer.encode(t, add_special_tokens=False) + [data.eos_id]]
        assert ids == toks.tolist()                                 # the fast path equals the tokenizer's own encode
    assert (data.dir/'tokenizer'/'tokenizer.json').is_file()
    assert LMData(data.dir).meta == data.meta


def test_cache_key_follows_content_split_and_tokenizer(tmp_path, cache):
    p = tmp_path/'a.txt'; p.write_text(PROSE * 20)
    a = prepare_data(str(p), 'char', 'tail:0.1', 0)
    assert prepare_data(str(p), 'char', 'tail:0.2', 0).dir != a.dir
    assert prepare_data(str(p), 'bpe:300', 'tail:0.1', 0).dir != a.dir
    q = tmp_path/'copy.txt'; q.write_text(PROSE * 20)  # the same text elsewhere: the same entry, named after this call
    c = prepare_data(str(q), 'char', 'tail:0.1', 0)
    assert c.from_cache and c.dir == a.dir and c.meta['corpus']['name'] == str(q)
    p.write_text(PROSE * 21)  # new content: new size and mtime, read and hashed again
    b = prepare_data(str(p), 'char', 'tail:0.1', 0)
    assert not b.from_cache and b.dir != a.dir and b.meta['corpus']['hash'] != a.meta['corpus']['hash']


def test_char_unknown_in_val_and_hf_tokenizer_from_folder(tmp_path, cache):
    p = tmp_path/'a.txt'; p.write_text('abc ' * 50 + 'xyz')
    data = prepare_data(str(p), 'char', 'tail:0.05/0', 0)  # 203 bytes: the last 10 are val
    assert ''.join(data.texts('val')) == 'bc abc <unk><unk><unk>'
    folder = data.dir/'tokenizer'
    hf = prepare_data(str(p), f'hf:{folder}', 'tail:0.05/0', 0)
    assert hf.vocab_size == data.vocab_size and hf.tokens('train').tolist() == data.tokens('train').tolist()
    with pytest.raises(LLMBenchError, match='could not be loaded'): build_tokenizer(f'hf:{tmp_path}/nothing-here')


def test_batches(tmp_path, cache):
    p = tmp_path/'a.txt'; p.write_text(PROSE * 30)
    data = prepare_data(str(p), 'char', 'tail:0.2', 0)
    g = torch.Generator().manual_seed(0)
    x, y = data.get_batch('train', 5, 17, generator=g)
    assert x.shape == y.shape == (5, 17) and x.dtype == y.dtype == torch.int64
    assert torch.equal(x[:, 1:], y[:, :-1])
    x2, _ = data.get_batch('train', 5, 17, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x, x2)
    n = data.n_tokens('val'); seen = []
    for xb, yb in data.iter_eval('val', 4, 32):
        assert xb.shape[1] == 32 and xb.shape[0] <= 4
        seen += yb[yb != -100].tolist()
    assert seen == data.tokens('val')[1:].tolist() and len(seen) == n - 1  # every token after the first, once


def test_make_text_file(tmp_path):
    p = make_text_file(tmp_path/'g.txt', 0.5, seed=1)
    assert abs(p.stat().st_size - 0.5 * 2**20) < 100
    t = p.read_text()
    assert t.endswith('\n') and t.count('\n') > 1000 and any(ch in t for ch in 'éüöß')


# ---------------------------------------------------------------- hub (network)

def test_hub_code_path_offline(cache, monkeypatch):
    "The hub loader with `datasets.load_dataset` stubbed (no network here): splits, field checks, caching, errors."
    import datasets
    rows = [f"hub row {i}: " + PROSE for i in range(40)]
    calls = []
    def fake_load(ds_id, config=None, **kw):
        calls.append((ds_id, config))
        if ds_id == 'offline/missing': raise ConnectionError("Couldn't reach 'offline/missing' on the Hub")
        return datasets.DatasetDict({'test': datasets.Dataset.from_dict({'text': rows[:2]}),
                                     'train': datasets.Dataset.from_dict({'text': rows, 'n': list(range(40))})})
    monkeypatch.setattr(datasets, 'load_dataset', fake_load)
    data = prepare_data('hf:someone/corpus:en', 'char', 'auto', 0)
    assert calls == [('someone/corpus', 'en')] and data.meta['split'] == 'doc:0.9/0.05/0.05'
    assert sum(data.meta['splits'][s]['docs'] for s in SPLITS) == 40 and "split 'train'" in data.meta['corpus']['source']
    assert prepare_data('hf:someone/corpus:en', 'char', 'auto', 0).from_cache
    with pytest.raises(LLMBenchError, match=r"no field 'body' \(fields: text, n\)"): prepare_data('hf:someone/corpus', 'char', text_field='body')
    with pytest.raises(LLMBenchError, match=r"corpus 'hf:offline/missing': could not load from the Hugging Face hub \(ConnectionError"):
        prepare_data('hf:offline/missing', 'char')


@pytest.mark.hub
@pytest.mark.skipif(os.environ.get('LLMBENCH_TEST_HUB') != '1',
                    reason='needs the Hugging Face hub (network); set LLMBENCH_TEST_HUB=1 on a machine that reaches it')
def test_hub_dataset_and_tokenizer(cache):
    data = prepare_data('hf:stanfordnlp/imdb', 'hf:gpt2', 'auto', 0)
    assert data.vocab_size == 50257 and data.eos_id == 50256 and data.n_tokens('train') > 1_000_000


# ---------------------------------------------------------------- the notebook

def test_notebook_smoke(run_nb, cache):
    r = run_nb('01_data')
    assert r['corpus'] == 'embedded:python-docs' and r['tokenizer'] == 'char' and r['split'] == 'doc:0.9/0.05/0.05'
    assert {k: r['splits'][k]['docs'] for k in SPLITS} == {'train': 71, 'val': 4, 'test': 4}
    assert r['vocab_size'] > 50 and r['roundtrip_ok'] and r['cached_rerun_seconds'] < 1
    assert r['bytes_per_token']['train'] > 0.99 and len(r['cache_key']) == 16


def test_notebook_local_txt_with_bpe(run_nb, cache, tmp_path):
    p = tmp_path/'mine.txt'; p.write_text(PROSE * 300)
    r = run_nb('01_data', corpus=str(p), tokenizer='bpe:512')
    assert r['corpus'] == str(p) and r['split'] == 'tail:0.05/0.05' and r['vocab_size'] <= 512
    assert r['bytes_per_token']['train'] > 2 and r['splits']['val']['bytes'] > 0 and r['roundtrip_ok']


def test_bpe_long_text_cut_at_spaces_equals_whole_text_encoding(tmp_path, cache):
    "Long texts are encoded in ~64K-character pieces cut before spaces: the same ids as encoding the whole text."
    p = tmp_path/'long.txt'; p.write_text(PROSE * 1500)  # ~225K characters, one document
    data = prepare_data(str(p), 'bpe:400', 'tail:0.1/0', 0)
    train = ''.join(split_corpus(str(p), 'tail:0.1/0')['train'])
    assert len(train) > 2 * 2**16  # at least three pieces
    assert data.tokens('train').tolist() == data.tokenizer.encode(train, add_special_tokens=False)


# ---------------------------------------------------------------- reliability (issue 12)

@pytest.mark.parametrize('kw,msg', [
    ({'tokenizer': 'bpe:99999999999999999999'},
     "tokenizer 'bpe:99999999999999999999': the BPE vocabulary size must be from 258 to"),
    ({'split': 'tail:1.5'}, "split 'tail:1.5': fraction 1.5 is out of range; each fraction must be between 0 and 1"),
    ({'split': 'doc:0.9/-0.05/0.15'}, "fraction -0.05 is out of range"),
])
def test_out_of_range_specs_say_the_range(cache, kw, msg):
    with pytest.raises(LLMBenchError) as e:
        prepare_data('embedded:python-docs', **({'tokenizer': 'char', 'split': 'auto'} | kw))
    assert msg in str(e.value), str(e.value)


def test_hf_tokenizer_folder_without_tokenizer_files(tmp_path):
    d = tmp_path/'ckpt'; d.mkdir(); (d/'config.json').write_text('{}')
    with pytest.raises(LLMBenchError) as e: build_tokenizer(f'hf:{d}')
    msg = str(e.value)
    assert str(d) in msg and 'has no tokenizer files' in msg and 'tokenizer.json' in msg, msg
    assert 'install' not in msg.lower() and 'convert' not in msg.lower(), msg  # not sentencepiece/tiktoken advice


@pytest.mark.parametrize('size', [0, -1, float('nan'), 'big'])
def test_bench_data_checks_size_up_front(tmp_path, size):
    from llmbench.bench import bench_data
    with pytest.raises(LLMBenchError, match=r"size_mb=.*: must be a number of MiB > 0"):
        bench_data(size, workdir=tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing generated


def test_glob_through_a_symlink_loop_reads_each_file_once(tmp_path, cache):
    d = tmp_path/'loop'; (d/'sub').mkdir(parents=True)
    for i in range(3): (d/f'a{i}.txt').write_text(f"file {i}: " + PROSE * 20)
    (d/'sub'/'b.txt').write_text("the sub folder's file: " + PROSE * 20)
    (d/'sub'/'back').symlink_to(d, target_is_directory=True)  # a loop: loop/sub/back/sub/back/...
    (d/'also-a0.txt').symlink_to(d/'a0.txt')                  # another name of the same file
    want = [str((d/f).resolve()) for f in ('a0.txt', 'a1.txt', 'a2.txt', 'sub/b.txt')]
    for spec in (str(d/'**'/'*.txt'), str(d)):
        c = load_corpus(spec)
        assert sorted(c.meta['files']) == want and c.n_docs == 4, (spec, len(c.meta['files']))
    data = prepare_data(str(d/'**'/'*.txt'), 'char', 'auto', 0)
    assert data.meta['corpus']['docs'] == 4 and data.n_bytes('train') < 4 * len(PROSE) * 21


def test_cache_is_keyed_by_content_not_by_size_and_mtime(tmp_path, cache):
    p = tmp_path/'a.txt'; p.write_text('abcd ' * 400)
    a = prepare_data(str(p), 'char', 'tail:0.1', 0)
    st = p.stat()
    p.write_text('wxyz ' * 400)                          # same size
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))     # modification time restored
    b = prepare_data(str(p), 'char', 'tail:0.1', 0)
    assert not b.from_cache and b.dir != a.dir and ''.join(b.texts('val')).startswith('wxyz'[1:]) is not None
    assert set(''.join(b.texts('train'))) == set('wxyz ')
    assert prepare_data(str(p), 'char', 'tail:0.1', 0).from_cache  # and the new content is cached in turn


def test_a_concurrent_build_never_removes_a_complete_entry(tmp_path, cache, monkeypatch):
    "Another process finishes the same entry while this build runs: readers never see it missing; this copy is dropped."
    import shutil, llmbench.core as C, llmbench.data as D
    p = tmp_path/'a.txt'; p.write_text(PROSE * 20)
    first = prepare_data(str(p), 'char', 'tail:0.1', 0)
    entry = first.dir; saved = tmp_path/'saved'; shutil.copytree(entry, saved)
    shutil.rmtree(entry); shutil.rmtree(cache/'data'/'index')
    orig_build_tok, orig_replace, seen, ino = D.build_tokenizer, os.replace, [], []
    def other_process_finishes(*a, **kw):  # while this build runs, the other one publishes the entry
        shutil.copytree(saved, entry); ino.append((entry/'meta.json').stat().st_ino)
        return orig_build_tok(*a, **kw)
    def watched_replace(src, dst):
        r = orig_replace(src, dst); seen.append((entry/'meta.json').is_file()); return r
    monkeypatch.setattr(D, 'build_tokenizer', other_process_finishes)
    monkeypatch.setattr(C.os, 'replace', watched_replace)
    again = prepare_data(str(p), 'char', 'tail:0.1', 0)
    assert again.dir == entry and ino == [(entry/'meta.json').stat().st_ino]  # the other process's entry was kept
    assert all(seen), seen  # never missing in between
    assert _entries(cache) == [entry.name]  # this build's temporary folder removed


@pytest.mark.parametrize('fail', ['read-only', 'full', 'not a folder'])
def test_unwritable_cache_names_the_folder_and_the_setting(tmp_path, cache, monkeypatch, fail):
    import errno, tempfile, llmbench.data as D
    p = tmp_path/'a.txt'; p.write_text(PROSE * 5)
    if fail == 'read-only':
        def deny(*a, dir=None, **kw): raise PermissionError(errno.EACCES, 'Permission denied', str(dir))
        monkeypatch.setattr(tempfile, 'mkdtemp', deny)
    elif fail == 'full':
        def full(self, s, ev): raise OSError(errno.ENOSPC, 'No space left on device')
        monkeypatch.setattr(D._Writer, 'add', full)
    else:
        cache.parent.mkdir(exist_ok=True); (tmp_path/'file').write_text('x')
        monkeypatch.setenv('LLMBENCH_PATHS_CACHE_DIR', str(tmp_path/'file'/'cache'))
    with pytest.raises(LLMBenchError) as e: prepare_data(str(p), 'char', 'tail:0.1', 0)
    msg = str(e.value)
    root = str(tmp_path/'file'/'cache') if fail == 'not a folder' else str(cache)
    assert f'cache folder {root}' in msg and '[paths] cache_dir' in msg and 'LLMBENCH_PATHS_CACHE_DIR' in msg, msg


def test_cache_entries_follow_the_umask(tmp_path, cache):
    "A cache entry is readable as a plain mkdir would make it (a temporary-folder build gives 0700 otherwise)."
    old = os.umask(0o022)
    try:
        p = tmp_path/'a.txt'; p.write_text(PROSE * 5)
        d = prepare_data(str(p), 'char', 'tail:0.1', 0).dir
    finally: os.umask(old)
    assert d.stat().st_mode & 0o777 == 0o755
    assert all(f.stat().st_mode & 0o777 == 0o644 for f in d.rglob('*') if f.is_file())


def test_data_notebook_on_a_tiny_corpus_asks_for_nothing_it_lacks(run_nb, tmp_path):
    "01_data has no block_size parameter, so a tiny corpus must not fail there asking for one (it did: 'use block_size <= 1')."
    f = tmp_path/'tiny.txt'; f.write_text('a tiny corpus\n')
    r = run_nb('01_data', corpus=str(f))
    assert r['corpus'] == str(f) and r['splits']['train']['tokens'] >= 1
