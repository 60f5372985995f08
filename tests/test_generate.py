"Generation: cached == uncached for every architecture, stop strings, seeds, streaming, bad input, the notebook."
import pytest, torch
from llmbench.core import LLMBenchError
from llmbench.generate import generate, stream, Decoder, encode_prompt, context_window, check_options
from llmbench.bench import bench_generate

TEXT = ["the quick brown fox jumps over the lazy dog; " * 4, "pack my box with five dozen liquor jugs! " * 4,
        "Ünïcödé text, emoji 🙂 and ‘quotes’ too. " * 4]
ARCHS = ['gpt', 'lstm', 'gru', 'cnn']


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    "Tiny models run fastest on one thread, above all on a shared, loaded machine."
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope='module')
def bpe():
    from llmbench.data import build_tokenizer
    return build_tokenizer('bpe:300', TEXT)


@pytest.fixture(scope='module')
def char():
    from llmbench.data import build_tokenizer
    return build_tokenizer('char', TEXT)


def small(arch, vocab, block_size=16, seed=0):
    from llmbench.models import build_model
    torch.manual_seed(seed)
    return build_model(arch, vocab, 1, 2, 32, block_size).eval()


@pytest.mark.parametrize('arch', ARCHS)
def test_greedy_cached_equals_uncached(arch, bpe):
    m = small(arch, len(bpe))
    kw = dict(max_new_tokens=40, temperature=0, stop_at_eos=False) # 40 > block_size 16: the window slides twice
    prompts = ['the quick', 'pack my box', 'the quick']
    cached, uncached = generate(m, bpe, prompts, **kw), generate(m, bpe, prompts, use_cache=False, **kw)
    assert [g.token_ids for g in cached] == [g.token_ids for g in uncached]
    assert all(len(g.token_ids) == 40 and g.finish_reason == 'length' for g in cached)
    assert cached[0] == cached[2]


def test_hf_model_and_truncation(bpe):
    from transformers import GPT2Config, GPT2LMHeadModel
    torch.manual_seed(0)
    m = GPT2LMHeadModel(GPT2Config(vocab_size=len(bpe), n_positions=12, n_embd=16, n_layer=1, n_head=2,
                                   bos_token_id=None, eos_token_id=None)).eval()
    assert context_window(m) == 12
    long = 'the quick brown fox jumps over the lazy dog ' * 3
    a = generate(m, bpe, long, 30, temperature=0, stop_at_eos=False)
    b = generate(m, bpe, long, 30, temperature=0, stop_at_eos=False, use_cache=False)
    assert a.token_ids == b.token_ids
    n = len(bpe.encode(long, add_special_tokens=False))
    assert a.prompt_tokens == 12 and a.truncated_tokens == n - 12
    with pytest.raises(LLMBenchError, match="truncate='left'"): generate(m, bpe, long, 5, truncate='error')


def test_stop_string_across_tokens(bpe):
    m = small('gpt', len(bpe), block_size=64)
    full = generate(m, bpe, 'the', 30, temperature=1.0, seed=1, stop_at_eos=False)
    pieces = [bpe.decode([t]) for t in full.token_ids]
    # a stop string made of the end of one multi-character token and the start of the next
    j = next(j for j in range(1, len(pieces)) if len(pieces[j - 1]) > 1 and pieces[j] and '\ufffd' not in pieces[j - 1] + pieces[j])
    stop = pieces[j - 1][-1] + pieces[j][0]
    g = generate(m, bpe, 'the', 30, temperature=1.0, seed=1, stop=['zzzz', stop], stop_at_eos=False)
    assert g.finish_reason == 'stop' and g.stop == stop
    assert stop not in g.text and g.text == full.text[:full.text.find(stop)]
    assert len(g.token_ids) < 30
    assert generate(m, bpe, 'the', 30, temperature=1.0, seed=1, stop='not there', stop_at_eos=False).finish_reason == 'length'
    # the stream holds back a possible stop-string start and never emits the stop string
    ds = list(stream(m, bpe, 'the', 30, temperature=1.0, seed=1, stop=stop, stop_at_eos=False))
    assert ''.join(d.text for d in ds) == g.text and ds[-1].finish_reason == 'stop'


class ForceToken(torch.nn.Module):
    "Wrap a model so one token always wins."
    def __init__(self, m, token): super().__init__(); self.m, self.token, self.config = m, token, m.config
    def forward(self, input_ids, **kw):
        out = self.m(input_ids, **kw); out.logits[..., self.token] += 1e4
        return out


def test_eos_stops(char):
    m = ForceToken(small('lstm', len(char)), char.eos_token_id)
    g = generate(m, char, 'abc', 10, temperature=0.7, seed=0)
    assert g.finish_reason == 'stop' and g.stop == char.eos_token and g.text == '' and g.token_ids == [char.eos_token_id]
    assert len(generate(m, char, 'abc', 10, temperature=0, stop_at_eos=False).token_ids) == 10


@pytest.mark.parametrize('arch', ['gpt', 'lstm'])
def test_seed_reproducible(arch, bpe):
    m = small(arch, len(bpe))
    kw = dict(max_new_tokens=30, temperature=1.2, top_k=50, top_p=0.95, repetition_penalty=1.1, stop_at_eos=False)
    a, b, c = (generate(m, bpe, ['the', 'pack my'], seed=s, **kw) for s in (7, 7, 8))
    assert a == b and [g.token_ids for g in a] != [g.token_ids for g in c]
    assert generate(m, bpe, 'pack my', seed=8, **kw) == a[1] # prompt i samples with seed + i, alone or batched
    assert generate(m, bpe, 'the', temperature=0, max_new_tokens=5, stop_at_eos=False).token_ids == \
        generate(m, bpe, 'the', temperature=0, max_new_tokens=5, stop_at_eos=False, seed=3).token_ids


@pytest.mark.parametrize('arch', ARCHS)
def test_stream_concatenates(arch, bpe):
    m = small(arch, len(bpe))
    kw = dict(max_new_tokens=25, temperature=1.0, seed=2, stop_at_eos=False)
    ds = list(stream(m, bpe, 'Ünï', **kw))
    assert ''.join(d.text for d in ds) == generate(m, bpe, 'Ünï', **kw).text
    assert ds[-1].finish_reason == 'length' and all(d.finish_reason is None for d in ds[:-1])
    assert m.training is False


def test_empty_prompt(char):
    m = small('gru', len(char))
    g = generate(m, char, '', 8, temperature=0, stop_at_eos=False)
    assert g.prompt_tokens == 1 and len(g.token_ids) == 8 # starts from the EOS token: the beginning of a document
    assert encode_prompt(char, '') == ([char.eos_token_id], 0)


@pytest.mark.parametrize('field,value', [('max_new_tokens', 0), ('max_new_tokens', -5), ('temperature', -0.5),
                                         ('top_p', 0), ('top_p', 1.5), ('top_k', -1), ('repetition_penalty', 0.0),
                                         ('stop', ''), ('truncate', 'middle'), ('seed', 'abc'), ('batch_size', 0)])
def test_bad_input(field, value, char):
    m = small('gpt', len(char))
    with pytest.raises(LLMBenchError) as e: generate(m, char, 'abc', **{field: value})
    assert field in str(e.value) and repr(value) in str(e.value)
    if field != 'batch_size':
        with pytest.raises(LLMBenchError): next(stream(m, char, 'abc', **{field: value}))


def test_bad_prompts(char):
    m = small('gpt', len(char))
    with pytest.raises(LLMBenchError, match='prompt'): generate(m, char, 123)
    with pytest.raises(LLMBenchError, match='prompt'): generate(m, char, ['ok', None])
    with pytest.raises(LLMBenchError, match='equal token lengths'): Decoder(m, [[1, 2], [3]])


def test_bench_generate_small():
    r = bench_generate(('gpt', 'lstm'), (8, 16), n_layer=1, n_head=2, n_embd=16, vocab_size=64, prompt_tokens=4, repeats=1)
    for a in ('gpt', 'lstm'):
        assert set(r['archs'][a]['cached']) == {8, 16} and all(r['archs'][a]['same_tokens'].values())
    h = r['hf_compare']
    assert all(h['same_tokens'].values()) and all(v > 0 for v in h['transformers'].values())


def test_notebook_smoke(run_nb):
    r = run_nb('08_generate')
    assert set(r['archs']) == set(ARCHS)
    assert all(v['equal'] for v in r['greedy_cached_equals_uncached'].values())
    assert r['stop_demo'] and all(d['stop'] not in d['stopped'] for d in r['stop_demo'].values())
    assert any('top_p' in k for k in r['bad_input_errors'])


def test_notebook_other_params(run_nb):
    r = run_nb('08_generate', archs='gpt,gru', tokenizer='bpe:300', prompt='def ', temperature=0.0, block_size=16,
               max_new_tokens=20)
    assert r['archs'] == ['gpt', 'gru']
    assert all(v['equal'] for v in r['greedy_cached_equals_uncached'].values())


def test_memory_grows_with_the_tokens_generated_not_max_new_tokens(char):
    "max_new_tokens=10**9 reserved 8 GB before the first token: the buffer grows as tokens arrive."
    m = small('gpt', len(char))
    p = char.encode('abc', add_special_tokens=False)
    d = Decoder(m, [p, p], max_new_tokens=10**7, temperature=0, ctx=context_window(m))
    assert d.buf.numel() * d.buf.element_size() < 2 * 10**5, d.buf.shape   # was 2 x 10**7 int64: 160 MB
    got = torch.stack([d.step() for _ in range(600)], 1)                    # past several doublings
    ref = Decoder(m, [p, p], max_new_tokens=600, temperature=0, ctx=context_window(m))
    assert torch.equal(got, torch.stack([ref.step() for _ in range(600)], 1))
    assert d.buf.shape[1] < 4 * (len(p) + 600)
    eos = ForceToken(small('lstm', len(char)), char.eos_token_id)
    g = generate(eos, char, 'abc', max_new_tokens=10**9, temperature=0)     # ends at once: no 8 GB on the way
    assert g.finish_reason == 'stop' and g.token_ids == [char.eos_token_id]
    assert [x.finish_reason for x in stream(eos, char, 'abc', max_new_tokens=10**9)] == ['stop']


def _completions_server():
    "A small OpenAI-compatible completions server on 127.0.0.1 (echoes the prompt's length; streams word by word)."
    import json, threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class H(BaseHTTPRequestHandler):
        def _send(self, code, body, ctype='application/json'):
            self.send_response(code); self.send_header('Content-Type', ctype)
            self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)

        def do_GET(self):
            self._send(200, json.dumps({'object': 'list', 'data': [{'id': 'tiny', 'object': 'model', 'created': 0,
                                                                     'owned_by': 'test'}]}).encode())

        def do_POST(self):
            req = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
            text = f" got {len(req['prompt'])} chars at t={req.get('temperature')} k={req.get('top_k', 0)}"
            if not req.get('stream'):
                self._send(200, json.dumps({'id': 'c', 'object': 'text_completion', 'created': 0, 'model': req['model'],
                                            'choices': [{'index': 0, 'text': text, 'finish_reason': 'length',
                                                         'logprobs': None}]}).encode())
                return
            words = text.split(' ')
            ev = [{'id': 'c', 'object': 'text_completion', 'created': 0, 'model': req['model'],
                   'choices': [{'index': 0, 'text': (' ' if j else '') + w, 'logprobs': None,
                                'finish_reason': 'length' if j == len(words) - 1 else None}]} for j, w in enumerate(words)]
            self._send(200, (''.join(f'data: {json.dumps(e)}\n\n' for e in ev) + 'data: [DONE]\n\n').encode(),
                       'text/event-stream')

        def log_message(self, *a): pass

    srv = ThreadingHTTPServer(('127.0.0.1', 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def test_openai_spec_generate_and_stream():
    "generate/stream with 'openai:<base_url>[#<model>]' talk to an OpenAI-compatible server through the openai package."
    from llmbench.generate import generate, stream
    srv = _completions_server()
    try:
        url = f'http://127.0.0.1:{srv.server_port}/v1'
        g = generate(f'openai:{url}#tiny', None, 'hello', max_new_tokens=8, temperature=0.5, top_k=3)
        assert g.text == ' got 5 chars at t=0.5 k=3' and g.finish_reason == 'length'
        gs = generate(f'openai:{url}', None, ['a', 'abc'], max_new_tokens=8)  # the server's first model
        assert [x.text for x in gs] == [' got 1 chars at t=1.0 k=0', ' got 3 chars at t=1.0 k=0']
        ds = list(stream(f'openai:{url}#tiny', None, 'hey', max_new_tokens=8))
        assert ''.join(d.text for d in ds) == ' got 3 chars at t=1.0 k=0' and ds[-1].finish_reason == 'length'
    finally: srv.shutdown(); srv.server_close()
    with pytest.raises(LLMBenchError, match='no answer'): generate(f'openai:{url}#tiny', None, 'x', max_new_tokens=2)
    with pytest.raises(LLMBenchError, match='openai:http://host:port/v1'): generate('openai:localhost', None, 'x')
