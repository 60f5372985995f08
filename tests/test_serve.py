"""11_serve: a real HTTP server tested as the field tests servers: the openai client (plain, streaming, completions,
chat), batched greedy == solo for every architecture, limits and security, malformed floods, disconnects that stop the
compute, hooks, the request log, schema fuzzing with schemathesis, the chat page in Chromium, the CLI."""
import asyncio, copy, json, os, re, subprocess, sys, threading, time
from pathlib import Path
import httpx, pytest, torch
from llmbench.core import LLMBenchError
from llmbench.serve import (Hook, Moderation, PIIRedaction, RequestContext, LOG_SCHEMA, redact_pii, serve_in_background,
                            serve_settings, bind_warning)

ROOT = Path(__file__).resolve().parents[1]
LLMBENCH = str(Path(sys.executable).parent/'llmbench')  # the console script of this environment
TEXT = ["the quick brown fox jumps over the lazy dog; " * 4, "pack my box with five dozen liquor jugs! " * 4]
ARCHS = ['gpt', 'lstm', 'gru', 'cnn', 'hf']
SCHEMA_KEYS = {'schema', 'time', 'ts', 'id', 'route', 'model', 'status', 'error', 'stream', 'prompt_tokens',
               'completion_tokens', 'queue_s', 'ttft_s', 'latency_s', 'batch_size', 'queue_depth', 'finish_reason',
               'flags', 'toxicity'}


@pytest.fixture(scope='module')
def tok():
    from llmbench.data import build_tokenizer
    return build_tokenizer('char', TEXT + ['Q: A:\n'])


@pytest.fixture(scope='module')
def chat_tok(tok):
    "The same tokenizer with 09_finetune's chat template."
    import copy
    from llmbench.finetune import with_chat_template
    return with_chat_template(copy.deepcopy(tok))


def small(arch, vocab, block_size=96, seed=0):
    from llmbench.models import build_model
    torch.manual_seed(seed)
    if arch == 'hf':
        from transformers import GPT2Config, GPT2LMHeadModel
        return GPT2LMHeadModel(GPT2Config(vocab_size=vocab, n_positions=block_size, n_embd=32, n_layer=1, n_head=2,
                                          bos_token_id=None, eos_token_id=None)).eval()
    return build_model(arch, vocab, 1, 2, 32, block_size).eval()


@pytest.fixture(scope='module')
def gpt(tok): return small('gpt', len(tok))


@pytest.fixture
def server(gpt, tok, tmp_path):
    "A server of the tiny gpt with the default hooks and a request log in tmp_path."
    h = serve_in_background((gpt, tok), name='tiny', log_path=str(tmp_path/'requests.jsonl'))
    yield h
    h.stop()


def post(h, path, body=None, **kw):
    return httpx.post(h.url + path, json=body, timeout=60, **kw)


def log_records(h):
    return [json.loads(l) for l in Path(h.log_path).read_text().splitlines()]


# --- the openai client, plain and streaming, completions and chat
def test_openai_client_completions_and_chat(gpt, chat_tok, tmp_path):
    import openai
    from llmbench.generate import generate
    with serve_in_background((gpt, chat_tok), name='tiny', log_path=str(tmp_path/'r.jsonl')) as h:
        c = openai.OpenAI(base_url=h.base_url, api_key='none', max_retries=0)
        assert [m.id for m in c.models.list().data] == ['tiny']
        r = c.completions.create(model='tiny', prompt='the quick', max_tokens=12, temperature=0)
        direct = generate(gpt, chat_tok, 'the quick', 12, temperature=0)
        assert r.choices[0].text == direct.text and r.choices[0].finish_reason == direct.finish_reason
        assert r.usage.completion_tokens == len(direct.token_ids) and r.usage.prompt_tokens == direct.prompt_tokens
        parts = list(c.completions.create(model='tiny', prompt='the quick', max_tokens=12, temperature=0, stream=True))
        assert ''.join(p.choices[0].text for p in parts if p.choices) == direct.text
        assert parts[-1].choices[0].finish_reason == direct.finish_reason
        msgs = [{'role': 'user', 'content': 'the quick brown'}]
        r = c.chat.completions.create(model='tiny', messages=msgs, max_tokens=10, temperature=0)
        want = generate(gpt, chat_tok, chat_tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True),
                        10, temperature=0)
        assert r.choices[0].message.content == want.text and r.choices[0].message.role == 'assistant'
        s = c.chat.completions.create(model='tiny', messages=msgs, max_tokens=10, temperature=0, stream=True,
                                      stream_options={'include_usage': True})
        chunks = list(s)
        assert ''.join(x.choices[0].delta.content or '' for x in chunks if x.choices) == want.text
        assert chunks[-1].usage.completion_tokens == len(want.token_ids)
        with pytest.raises(openai.NotFoundError, match='not served here'):
            c.completions.create(model='other', prompt='x', max_tokens=2)


def test_chat_without_template_names_the_fix(server):
    r = post(server, '/v1/chat/completions', {'model': 'tiny', 'messages': [{'role': 'user', 'content': 'hi'}]})
    assert r.status_code == 400 and r.json()['error']['code'] == 'no_chat_template'
    assert '09_finetune' in r.json()['error']['message'] and 'task=chat' in r.json()['error']['message']


def test_sampling_seed_reproducible_and_stop(server):
    body = {'model': 'tiny', 'prompt': 'the', 'max_tokens': 20, 'temperature': 1.0, 'top_p': 0.9, 'seed': 7}
    a, b = post(server, '/v1/completions', body).json(), post(server, '/v1/completions', body).json()
    assert a['choices'][0]['text'] == b['choices'][0]['text']
    text = a['choices'][0]['text']
    if len(text) > 3:
        s = post(server, '/v1/completions', {**body, 'stop': [text[2:4]]}).json()['choices'][0]
        assert s['finish_reason'] == 'stop' and s['text'] == text[:text.index(text[2:4])]


# --- continuous batching: greedy output of a request is the same alone and in a batch, for every architecture
PROMPTS = ['the quick brown fox', 'pack', 'my box with five', 'the lazy dog; the', 'jugs! ', 'q']


def _concurrently(fn, args):
    out = [None] * len(args)
    def run(i): out[i] = fn(args[i])
    ts = [threading.Thread(target=run, args=(i,)) for i in range(len(args))]
    for t in ts: t.start()
    for t in ts: t.join()
    return out


@pytest.mark.parametrize('arch', ARCHS)
def test_greedy_batched_equals_solo(arch, tok, tmp_path):
    from llmbench.generate import generate
    m = small(arch, len(tok))
    slow = m.register_forward_hook(lambda mod, i, o: time.sleep(0.003))  # so that the requests overlap
    with serve_in_background((m, tok), name='m', log_path=str(tmp_path/'r.jsonl'), max_batch=8, hooks='log') as h:
        def ask(i): # staggered lengths and arrivals: rows join and leave a running batch
            time.sleep(0.02 * i)
            return post(h, '/v1/completions', {'model': 'm', 'prompt': PROMPTS[i], 'max_tokens': 24 + 6 * i,
                                              'temperature': 0, 'ignore_eos': True}).json()['choices'][0]['text']
        batched = _concurrently(ask, list(range(len(PROMPTS))))
        solo = [ask(i) for i in range(len(PROMPTS))]
        sizes = [r['batch_size'] for r in log_records(h)]
    direct = [generate(m, tok, p, 24 + 6 * i, temperature=0, stop_at_eos=False).text for i, p in enumerate(PROMPTS)]
    assert batched == solo == direct
    assert max(sizes[:len(PROMPTS)]) > 2, sizes  # the concurrent requests were decoded together
    assert sizes[len(PROMPTS):] == [1.0] * len(PROMPTS)


def test_stack_and_select_states_roundtrip(tok):
    "Rows stacked into a batch (left-padded) and selected back are the rows' own states."
    from llmbench.serve import stack_states, select_rows, state_kind, _kv
    m = small('gpt', len(tok))
    outs = [m(input_ids=torch.tensor([tok.encode(p)]), use_cache=True) for p in ('the quick', 'pack my box w', 'a')]
    states = [o.cache for o in outs]
    kind = state_kind(m, states[0]); assert kind == 'kv'
    b = stack_states(kind, states)
    assert _kv(b)[0][0].shape[0] == 3 and b.get_seq_length() == 13
    one = select_rows(kind, b, [0], [9])
    assert torch.equal(_kv(one)[0][0], _kv(states[0])[0][0])


# --- limits and security
def _err(r, status, code=None, param=None):
    assert r.status_code == status, (r.status_code, r.text)
    e = r.json()['error']
    assert set(e) == {'message', 'type', 'param', 'code'} and e['message'] and 'Traceback' not in r.text
    if code: assert e['code'] == code, e
    if param: assert e['param'] == param, e
    return e


def test_api_key(gpt, tok, tmp_path):
    with serve_in_background((gpt, tok), name='tiny', api_key='s3cret', log_path=str(tmp_path/'r.jsonl')) as h:
        body = {'model': 'tiny', 'prompt': 'the', 'max_tokens': 3}
        _err(post(h, '/v1/completions', body), 401, 'invalid_api_key')
        _err(post(h, '/v1/completions', body, headers={'Authorization': 'Bearer wrong'}), 401)
        r = httpx.get(h.url + '/v1/models'); assert r.status_code == 401 and r.headers['www-authenticate'] == 'Bearer'
        assert post(h, '/v1/completions', body, headers={'Authorization': 'Bearer s3cret'}).status_code == 200
        assert httpx.get(h.url + '/health').status_code == 200  # health and metrics stay open for probes
        assert [r['status'] for r in log_records(h)] == [401, 401, 200]


def test_bad_requests_get_openai_errors(server):
    ok = {'model': 'tiny', 'prompt': 'the', 'max_tokens': 3}
    _err(httpx.post(server.url + '/v1/completions', content=b'{"model": "tiny", "prompt": ', timeout=30), 400, 'invalid_json')
    _err(post(server, '/v1/completions', {**ok, 'max_tokens': 'ten'}), 422, param='max_tokens')
    _err(post(server, '/v1/completions', {**ok, 'temperature': -1}), 422, param='temperature')
    _err(post(server, '/v1/completions', {**ok, 'top_p': 0}), 422, param='top_p')
    _err(post(server, '/v1/completions', {**ok, 'prompt': 3}), 422, param='prompt')
    _err(post(server, '/v1/completions', {'model': 'tiny'}), 422, 'missing_field', 'prompt')
    _err(post(server, '/v1/completions', {**ok, 'n': 2}), 422, param='n')
    _err(post(server, '/v1/completions', {**ok, 'logprobs': 3}), 400, 'unsupported', 'logprobs')
    _err(post(server, '/v1/completions', {**ok, 'model': 'gpt-4'}), 404, 'model_not_found', 'model')
    _err(post(server, '/v1/completions', {**ok, 'max_tokens': 95}), 400, 'context_length_exceeded', 'max_tokens')
    _err(post(server, '/v1/completions', {**ok, 'max_tokens': 100000}), 400, 'invalid_value', 'max_tokens')
    _err(post(server, '/v1/completions', {**ok, 'stop': ['']}), 400, param='stop')
    _err(post(server, '/v1/completions', {**ok, 'prompt': ['a', 'b']}), 400, param='prompt')
    _err(httpx.post(server.url + '/v1/completions', content=b'x' * 2_000_000, timeout=30), 413, 'body_too_large')
    _err(httpx.get(server.url + '/v1/nothing'), 404)
    _err(httpx.get(server.url + '/v1/completions'), 405)
    assert post(server, '/v1/completions', ok).status_code == 200


def test_bind_warning_and_settings(monkeypatch):
    assert bind_warning('127.0.0.1', '') is None and bind_warning('::1', '') is None
    assert bind_warning('0.0.0.0', 'k') is None and 'without an API key' in bind_warning('0.0.0.0', '')
    monkeypatch.setenv('LLMBENCH_SERVE_MAX_BATCH', '3')
    assert serve_settings()['max_batch'] == 3 and serve_settings(max_batch=5)['max_batch'] == 5
    monkeypatch.setenv('LLMBENCH_SERVE_MAX_BATCH', 'many')
    with pytest.raises(LLMBenchError, match='max_batch'): serve_settings()
    with pytest.raises(LLMBenchError, match='moderation'): serve_settings(max_batch=2, moderation='strict')
    with pytest.raises(LLMBenchError, match='unknown'): serve_settings(max_batch=2, colour='red')


# --- load: queue limit, disconnects, timeouts, floods
@pytest.fixture
def slow(tok, tmp_path):
    "A server of an lstm (no context limit) decoding one request at a time, each step slowed to 5 ms."
    m = small('lstm', len(tok))
    m.register_forward_hook(lambda mod, i, o: time.sleep(0.005))
    h = serve_in_background((m, tok), name='m', log_path=str(tmp_path/'r.jsonl'), max_batch=1, max_queue=1,
                            max_tokens=100000, hooks='log')
    yield h
    h.stop()


def _stream_some(h, n_chunks, max_tokens=5000):
    "Open a stream, read `n_chunks` events, then drop the connection."
    with httpx.stream('POST', h.url + '/v1/completions', timeout=30, json={'model': 'm', 'prompt': 'the',
                      'max_tokens': max_tokens, 'stream': True, 'temperature': 0, 'ignore_eos': True}) as r:
        lines = r.iter_lines()
        got = [l for _, l in zip(range(n_chunks * 2), lines)]
    return got


def test_disconnect_frees_the_slot_and_stops_the_compute(slow):
    e = slow.server.engine
    _stream_some(slow, 3)
    t = time.time()
    while (e.active or e.waiting) and time.time() - t < 5: time.sleep(0.01)
    assert not e.active
    n = e.tokens_generated; time.sleep(0.3)
    assert e.tokens_generated == n  # nothing is generated for the client that left
    time.sleep(0.2)
    rec = log_records(slow)[-1]
    assert rec['finish_reason'] == 'cancelled' and rec['completion_tokens'] < 200, rec
    r = post(slow, '/v1/completions', {'model': 'm', 'prompt': 'a', 'max_tokens': 3})
    assert r.status_code == 200  # the slot is free again


def test_queue_full_gets_429_with_retry_after(slow):
    busy = [threading.Thread(target=_stream_some, args=(slow, 10000, 300)) for _ in range(2)]
    for b in busy: b.start(); time.sleep(0.3)  # one decoding, one waiting: the queue (max_queue=1) is full
    r = post(slow, '/v1/completions', {'model': 'm', 'prompt': 'a', 'max_tokens': 3})
    e = _err(r, 429, 'queue_full')
    assert int(r.headers['retry-after']) >= 1 and 'max_queue=1' in e['message']
    for b in busy: b.join()


def test_timeout(tok, tmp_path):
    m = small('lstm', len(tok))
    m.register_forward_hook(lambda mod, i, o: time.sleep(0.01))
    with serve_in_background((m, tok), name='m', log_path=str(tmp_path/'r.jsonl'), timeout_s=0.3, max_tokens=5000,
                             hooks='log') as h:
        t = time.time()
        r = post(h, '/v1/completions', {'model': 'm', 'prompt': 'a', 'max_tokens': 5000, 'ignore_eos': True})
        assert time.time() - t < 10  # 5000 tokens at 10 ms each would take 50 s
        _err(r, 504, 'timeout')
        assert log_records(h)[-1]['finish_reason'] == 'timeout'


MALFORMED = [b'', b'{', b'[]', b'null', b'"text"', b'{"model": 1}', b'{"model": "tiny", "prompt": null}',
             b'{"model": "tiny", "prompt": "a", "max_tokens": -5}', b'{"model": "tiny", "prompt": "a", "stop": 7}',
             b'{"model": "tiny", "prompt": "a", "temperature": "hot"}', b'\xff\xfe\x00', b'{"model": "tiny", "prompt": "a"',
             b'{"model": "tiny", "messages": []}', b'{"model": "tiny", "prompt": "a", "seed": -1}',
             b'{"model": "tiny", "prompt": "a", "max_tokens": 1e400}', b'{"model": "tiny", "prompt": {"a": 1}}']


def test_malformed_flood_then_valid_and_health_answers(server):
    async def flood():
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as c:
            async def bad(i):
                path = '/v1/chat/completions' if i % 3 == 0 else '/v1/completions'
                return (await c.post(path, content=MALFORMED[i % len(MALFORMED)],
                                     headers={'content-type': 'application/json'})).status_code
            async def health():
                out = []
                for _ in range(10): out.append((await c.get('/health')).status_code); await asyncio.sleep(0.01)
                return out
            codes, hs = await asyncio.gather(asyncio.gather(*[bad(i) for i in range(100)]), health())
            return codes, hs
    codes, hs = asyncio.run(flood())
    assert all(400 <= c < 500 for c in codes), sorted(set(codes))
    assert hs == [200] * 10
    r = post(server, '/v1/completions', {'model': 'tiny', 'prompt': 'the', 'max_tokens': 5})
    assert r.status_code == 200 and r.json()['usage']['completion_tokens'] >= 1
    assert httpx.get(server.url + '/health').json()['status'] == 'ok'


def test_concurrent_streams_one_disconnects_others_unchanged(tok, tmp_path):
    m = small('gpt', len(tok))
    with serve_in_background((m, tok), name='m', log_path=str(tmp_path/'r.jsonl'), hooks='log') as h:
        def full(i):
            body = {'model': 'm', 'prompt': PROMPTS[i], 'max_tokens': 40, 'temperature': 0, 'ignore_eos': True, 'stream': True}
            text = ''
            with httpx.stream('POST', h.url + '/v1/completions', json=body, timeout=60) as r:
                for line in r.iter_lines():
                    if line.startswith('data: {'): text += json.loads(line[6:])['choices'][0]['text']
            return text
        def run(i):
            if i == 0: return _stream_some(h, 2, 80)  # leaves after two events
            return full(i)
        together = _concurrently(run, list(range(5)))
        alone = [full(i) for i in range(1, 5)]
    assert together[1:] == alone


# --- hooks
class LetterClassifier:
    "A stand-in toxicity classifier for the hook's mechanics: a text is 'toxic' when it holds the letter."
    def __init__(self, letter): self.letter = letter
    def score(self, texts): return [1.0 if self.letter in t else 0.0 for t in texts]


def _first_word_letter(h, prompt='the quick'):
    "A character that the model's greedy answer holds and the prompt does not, and the answer."
    text = post(h, '/v1/completions', {'model': 'tiny', 'prompt': prompt, 'max_tokens': 30, 'temperature': 0,
                                       'ignore_eos': True}).json()['choices'][0]['text']
    return next(c for c in text if not c.isspace() and c not in prompt), text


def test_moderation_refuses_prompt_and_stops_answer(gpt, tok, tmp_path):
    with serve_in_background((gpt, tok), name='tiny', hooks='log', log_path=str(tmp_path/'a.jsonl')) as plain:
        letter, text = _first_word_letter(plain)
    mod = Moderation(LetterClassifier(letter), threshold=0.5, action='refuse')
    with serve_in_background((gpt, tok), name='tiny', hooks=[mod, 'log'], log_path=str(tmp_path/'r.jsonl'),
                             log_text=True) as h:
        _err(post(h, '/v1/completions', {'model': 'tiny', 'prompt': f'say {letter}', 'max_tokens': 5}), 400,
             'content_filter', 'prompt')
        body = {'model': 'tiny', 'prompt': 'the quick', 'max_tokens': 30, 'temperature': 0, 'ignore_eos': True}
        r = post(h, '/v1/completions', body).json()['choices'][0]
        assert r['finish_reason'] == 'content_filter' and letter not in r['text']
        parts = []
        with httpx.stream('POST', h.url + '/v1/completions', json={**body, 'stream': True}, timeout=30) as s:
            for line in s.iter_lines():
                if line.startswith('data: {'): parts.append(json.loads(line[6:])['choices'][0])
        assert parts[-1]['finish_reason'] == 'content_filter' and letter not in ''.join(p['text'] for p in parts)
        recs = log_records(h)
    assert recs[0]['flags'] == ['moderation_prompt'] and recs[0]['status'] == 400 and recs[0]['toxicity'] == 1.0
    assert recs[1]['flags'] == ['moderation_response'] and recs[1]['finish_reason'] == 'content_filter'


def test_moderation_mask(gpt, tok, tmp_path):
    with serve_in_background((gpt, tok), name='tiny', hooks='log', log_path=str(tmp_path/'a.jsonl')) as plain:
        letter, text = _first_word_letter(plain)
    mod = Moderation(LetterClassifier(letter), threshold=0.5, action='mask')
    with serve_in_background((gpt, tok), name='tiny', hooks=[mod], log_path='') as h:
        r = post(h, '/v1/completions', {'model': 'tiny', 'prompt': 'the quick', 'max_tokens': 30, 'temperature': 0,
                                        'ignore_eos': True}).json()['choices'][0]
    want = re.sub(r'\S+', lambda w: '*' * len(w.group()) if letter in w.group() else w.group(), text)
    assert r['text'] == want and r['finish_reason'] == 'length'


@pytest.mark.parametrize('text', ['mail jo.doe@example.org now, or call +1 555 123 4567 today',
                                  'card 4111 1111 1111 1111 and ip 192.168.0.12 end', 'nothing here at all'])
def test_pii_redaction_streamed_equals_whole(text):
    "However the answer is cut into chunks, the redacted stream equals the redacted whole text."
    want = redact_pii(text)[0]
    for size in (1, 2, 3, 7, 100):
        h, ctx = PIIRedaction(), RequestContext('x', '/v1/completions', 'm', '')
        chunks = [text[i:i + size] for i in range(0, len(text), size)]
        out = ''.join(h.on_chunk(ctx, c, False) for c in chunks) + h.on_chunk(ctx, '', True)
        assert out == want, (size, out)
    assert ('[EMAIL]' in want and '[PHONE]' in want) or ('[CARD_NUMBER]' in want and '[IP_ADDRESS]' in want) or want == text


def test_hook_by_dotted_path_and_log_schema(gpt, tok, tmp_path, monkeypatch):
    (tmp_path/'myhooks.py').write_text(
        "from llmbench.serve import Hook\n"
        "class Shout(Hook):\n"
        "    name = 'shout'\n"
        "    def on_request(self, ctx): ctx.prompt = ctx.prompt.lower()\n"
        "    def on_response(self, ctx, text): return text.upper()\n"
        "    def on_log(self, ctx, record): record['shouted'] = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with serve_in_background((gpt, tok), name='tiny', hooks='myhooks.Shout,pii,log', log_path=str(tmp_path/'r.jsonl')) as h:
        r = post(h, '/v1/completions', {'model': 'tiny', 'prompt': 'THE QUICK', 'max_tokens': 8, 'temperature': 0}).json()
        plain = post(h, '/v1/completions', {'model': 'tiny', 'prompt': 'the quick', 'max_tokens': 8, 'temperature': 0}).json()
        recs = log_records(h)
    assert r['choices'][0]['text'] == plain['choices'][0]['text'] == plain['choices'][0]['text'].upper()
    assert all(set(x) == SCHEMA_KEYS | {'shouted'} and x['schema'] == LOG_SCHEMA for x in recs)  # no text by default
    x = recs[0]
    assert x['status'] == 200 and x['prompt_tokens'] == 9 and x['completion_tokens'] == r['usage']['completion_tokens']
    assert 0 <= x['queue_s'] <= x['ttft_s'] <= x['latency_s'] and x['time'].endswith('Z') and x['id'] == r['id']
    with pytest.raises(LLMBenchError, match='nosuch.Hook'):
        serve_in_background((gpt, tok), name='tiny', hooks='nosuch.Hook', log_path='')


def test_log_text_is_redacted_and_rotates(gpt, tok, tmp_path):
    log = tmp_path/'logs'/'r.jsonl'
    with serve_in_background((gpt, tok), name='tiny', hooks='log', log_path=str(log), log_text=True,
                             log_max_mb=0.002, log_backups=2) as h:
        for _ in range(12):
            post(h, '/v1/completions', {'model': 'tiny', 'prompt': 'write to jo@example.org', 'max_tokens': 4})
    files = sorted(p.name for p in log.parent.iterdir())
    assert files == ['r.jsonl', 'r.jsonl.1', 'r.jsonl.2']
    recs = [json.loads(l) for f in files for l in (log.parent/f).read_text().splitlines()]
    assert recs and all(r['prompt'] == 'write to [EMAIL]' and 'response' in r for r in recs)
    assert all((log.parent/f).stat().st_size <= 0.002 * 2**20 + 1000 for f in files)


# --- schema fuzzing: schemathesis generates requests from the server's own OpenAPI schema
def test_schemathesis_no_server_errors(gpt, chat_tok):
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    with serve_in_background((gpt, chat_tok), name='tiny', log_path='', max_tokens=16, default_max_tokens=8) as h:
        schema = schemathesis.openapi.from_url(h.url + '/openapi.json')
        seen = {}
        for res in schema.get_all_operations():
            op = res.ok()
            @given(case=op.as_strategy())
            @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def fuzz(case):
                if isinstance(case.body, dict) and 'model' in case.body and len(seen) % 4:
                    case.body['model'] = 'tiny'  # most cases name the served model, so they reach generation
                r = case.call(base_url=h.url, timeout=60)
                seen.setdefault(op.label, set()).add(r.status_code)
                assert r.status_code < 500, (case.body, r.text)
            fuzz()
    assert 200 in seen['POST /v1/completions'] and 200 in seen['POST /v1/chat/completions'], seen
    assert {'GET /v1/models', 'GET /health', 'GET /metrics', 'GET /'} <= set(seen)


# --- the openai: model spec of 08_generate against llmbench serve itself
def test_openai_spec_generate_and_stream(server, gpt, tok):
    from llmbench.generate import generate, stream
    direct = generate(gpt, tok, 'the quick', 12, temperature=0)
    assert generate(server.spec, None, 'the quick', 12, temperature=0).text == direct.text
    assert ''.join(d.text for d in stream(server.spec, None, 'the quick', 12, temperature=0)) == direct.text
    a = generate(server.spec, None, ['the', 'pack'], 10, temperature=1.0, seed=3)
    assert [g.text for g in a] == [g.text for g in generate(server.spec, None, ['the', 'pack'], 10, temperature=1.0, seed=3)]


# --- the command line
@pytest.fixture(scope='module')
def ckpt(tmp_path_factory, gpt, tok):
    d = tmp_path_factory.mktemp('ckpt')/'checkpoints'/'best'
    gpt.save_pretrained(d); tok.save_pretrained(d)
    return d


def _serve_cli(*args, env=None):
    "`llmbench serve ...` as a user starts it; returns the process and the URL it prints."
    p = subprocess.Popen([LLMBENCH, 'serve', *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    line = p.stdout.readline()
    if ' on http' not in line:
        p.kill(); raise AssertionError(line + p.stderr.read())
    return p, line.split(' on ')[1].split()[0]


def test_llmbench_serve_cli(ckpt, tmp_path):
    p, url = _serve_cli(str(ckpt), '--port', '0', '--log-path', str(tmp_path/'r.jsonl'), '--max-batch', '4')
    try:
        assert httpx.get(url + '/health').json()['status'] == 'ok'
        name = httpx.get(url + '/v1/models').json()['data'][0]['id']
        assert name == 'ckpt0-best' or name.endswith('-best')
        r = httpx.post(url + '/v1/completions', json={'model': name, 'prompt': 'the', 'max_tokens': 5}, timeout=60)
        assert r.status_code == 200 and (tmp_path/'r.jsonl').is_file()
    finally:
        p.send_signal(2); p.wait(20)  # Ctrl-C stops it, with the exit status of an interrupt as `llmbench run`
    assert p.returncode == 130, p.stderr.read()
    p, url = _serve_cli(str(ckpt), '--port', '0', '--host', '0.0.0.0', '--log-path', '')
    p.send_signal(2); p.wait(20)
    assert 'without an API key' in p.stderr.read()
    bad = subprocess.run([LLMBENCH, 'serve', str(tmp_path/'none')], capture_output=True, text=True)
    assert bad.returncode == 2 and 'llmbench serve: error' in bad.stderr and 'Traceback' not in bad.stderr
    bad = subprocess.run([LLMBENCH, 'serve', str(ckpt), '--max-batch', 'x'],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and 'max_batch' in bad.stderr


def test_bench_serve_tiny():
    from llmbench.serve import bench_serve
    b = bench_serve('gpt', 1, 32, 64, (1, 4), requests=4, max_tokens=6)
    for k in ('batched', 'one_at_a_time'):
        assert set(b[k]) == {1, 4} and all(f['tokens'] == f['requests'] * 6 for f in b[k].values())
        assert all(0 < f['ttft_p50_s'] <= f['latency_p95_s'] for f in b[k].values())
    assert b['speedup_at_max_vs_1'] > 0 and b['served_vs_direct_at_1'] > 0


def test_notebook_smoke(run_nb):
    r = run_nb('11_serve', n_clients=3, max_tokens=8, bench_n_layer=1, bench_n_embd=32, bench_block_size=64,
               bench_requests=4, bench_max_tokens=6, bench_concurrency=[1, 4])
    assert r['moderation_refusal']['code'] == 'content_filter' and r['log_records'] >= 10
    assert r['headline']['speedup_at_max_vs_1'] > 0


# --- the chat page in a real browser (headless Chromium driven by Playwright, as tests/test_browser.py)
OBSERVE = """() => { window.seen = []; new MutationObserver(() => {
  const a = document.querySelector('#log .assistant'); if (a) window.seen.push(a.textContent.length); })
  .observe(document.getElementById('log'), {childList: true, subtree: true, characterData: true}); }"""


def _browser():
    from test_browser import find_chromium
    chromium = find_chromium()
    if chromium is None:
        msg = 'no Chromium (make browser installs it, or set LLMBENCH_CHROMIUM)'
        if os.environ.get('LLMBENCH_BROWSER_REQUIRED') == '1': pytest.fail(msg)
        pytest.skip(msg)
    return chromium


def test_chat_page_streams_and_shows_refusal(gpt, tok, tmp_path):
    from llmbench.generate import generate
    from playwright.sync_api import sync_playwright
    chromium = _browser()
    want = generate(gpt, tok, 'the quick', 40, temperature=0).text
    paced = copy.deepcopy(gpt)  # 25 ms a token: the answer takes about 1 s, so the page sees it arrive in pieces
    fwd = paced.forward         # even when a busy machine would otherwise deliver the tiny model's 40 tokens at once
    paced.forward = lambda *a, **k: (time.sleep(0.025), fwd(*a, **k))[1]
    with serve_in_background((paced, tok), name='tiny', hooks='log', log_path=str(tmp_path/'a.jsonl')) as plain, \
         serve_in_background((gpt, tok), name='tiny', hooks='moderation,log', log_path=str(tmp_path/'b.jsonl')) as mod, \
         sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=['--no-sandbox'])
        page = b.new_page()
        page.goto(plain.url + '/')
        page.wait_for_function("document.getElementById('model').textContent.includes('tiny')")
        page.fill('#max', '40'); page.fill('#temp', '0'); page.evaluate(OBSERVE)
        page.fill('#msg', 'the quick'); page.press('#msg', 'Enter')
        page.wait_for_function(f"(document.querySelector('#log .assistant') || {{}}).textContent === {json.dumps(want)}",
                               timeout=30000)
        seen = page.evaluate('window.seen')
        assert len({n for n in seen if 0 < n < len(want)}) >= 2, seen  # the answer grew piece by piece
        assert page.inner_text('#log .user') == 'the quick'
        page.goto(mod.url + '/')
        page.wait_for_function("document.getElementById('model').textContent.includes('tiny')")
        page.fill('#msg', 'you are a fucking idiot'); page.press('#msg', 'Enter')
        page.wait_for_selector('#log .error', timeout=30000)
        assert 'moderation' in page.inner_text('#log .error') and 'toxicity' in page.inner_text('#log .error')
        page.screenshot(path=str(tmp_path/'chat.png'))
        b.close()


def test_llmbench_audit_of_a_served_model(gpt, tok, tmp_path):
    "10_audit's `llmbench audit openai:...` against llmbench serve: generation audits run, likelihood audits say why not."
    from llmbench.audit import audit_model
    with serve_in_background((gpt, tok), name='tiny', hooks='log', log_path=str(tmp_path/'r.jsonl')) as h:
        r = audit_model(h.spec, tmp_path/'audit', n_prompts=4, k=1, max_new_tokens=4, n_templates=2, n_boot=20)
        n = len(log_records(h))
    assert (tmp_path/'audit'/'audit.json').is_file() and n >= 4
    assert json.loads((tmp_path/'audit'/'audit.json').read_text())['passed'] == r['passed']
    assert r['toxicity']['overall']['n_prompts'] == 4 and "the model's weights" in r['bias_pairs']['skipped']
