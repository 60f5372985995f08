"""12_monitor: the notebook (a served model, simulated traffic, the shift detected where it starts), the log reader on bad
input, windows, tests, `llmbench monitor` exit codes, simulate_traffic against a fake server, the benchmark."""
import contextlib, io, json, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
import numpy as np
import pytest
from llmbench.core import LLMBenchError
from llmbench import monitor as M


def _rec(i=0, **kw):
    r = dict(schema=M.SCHEMA, time='2026-11-30T23:40:01.123456Z', ts=1796082000.0 + i, id=f'cmpl-{i:x}', model='gpt',
             route='/v1/completions', status=200, error=None, stream=False, prompt_tokens=5, completion_tokens=8,
             queue_s=0.01, ttft_s=0.02, latency_s=0.1, batch_size=1.0, queue_depth=0, finish_reason='length', flags=[],
             toxicity=0.01)
    return r | kw


def _write(path, recs):
    path.write_text(''.join((r if isinstance(r, str) else json.dumps(r)) + '\n' for r in recs))
    return path


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    "A tiny GPT trained for a few steps (seconds), with its data record."
    from llmbench.data import prepare_data
    from llmbench.train import find_checkpoints, train_small
    d = tmp_path_factory.mktemp('ckpt')
    train_small(prepare_data('embedded:python-docs', 'char', 'auto', 0), ['gpt'], d, n_layer=1, n_head=2, n_embd=16,
                block_size=64, max_steps=30, seed=0)
    return next(iter(find_checkpoints(d, ('best',)).values()))


def test_notebook_smoke(run_nb):
    r = run_nb('12_monitor')
    assert r['n_requests'] == 1200 and r['read']['records'] == 1200 and r['read']['n_bad'] == 0
    assert r['shift_window'] == 2 and r['headline']['false_alarms'] == 0
    fa = r['headline']['first_alerts']
    assert fa['flagged_share'] == 2 and fa['drift_tokens'] == 2, fa
    assert all(a['window'] >= 2 for a in r['monitor']['alerts'])
    syn = r['headline']['synthetic_first_alerts']  # a log that also degrades the service: every rule at its shift
    assert syn == {k: 2 for k in syn} and len(syn) == 8 and r['headline']['synthetic_false_alarms'] == 0
    assert r['monitor']['drift']['reference_distribution'].startswith('embedded:python-docs train split')
    assert 'no reference or user-feedback' in r['monitor']['quality']
    assert r['bench']['records'] > 0 and r['bench']['peak_rss_mb'] < 500 and r['conclusions']


def test_bad_lines_named_and_the_rest_read(tmp_path):
    recs = [_rec(i) for i in range(10)]
    bad = dict(recs[2]); del bad['latency_s']
    nul = dict(recs[5]); del nul['ttft_s']  # a nullable field missing: still a bad line
    lines = recs[:2] + [bad, 'not json {', recs[3], nul, _rec(6, status='200'), _rec(7, schema='v0'), '[1, 2]'] + recs[8:]
    p = _write(tmp_path/'requests.jsonl', lines)
    sc = M.scan_log(p, '1h')
    assert sc.n == 5 and sc.stats['lines'] == 11
    assert [(b[1], b[2].split(' ')[0]) for b in sc.stats['bad']] == [(3, 'missing'), (4, 'not'), (6, 'missing'),
                                                                     (7, 'status'), (8, 'schema'), (9, 'a')]
    assert sc.stats['bad'][0][2] == 'missing field(s) latency_s' and sc.stats['bad'][2][2] == 'missing field(s) ttft_s'
    ok = M.scan_log(_write(tmp_path/'ok.jsonl', [r for r in lines if isinstance(r, dict) and not M.check_record(r)]),
                    '1h')
    assert (ok.windows[0].hist['latency_s'] == sc.windows[0].hist['latency_s']).all()  # fast path = line-by-line path


def test_empty_log_window_too_large_and_bad_window(tmp_path):
    (tmp_path/'e.jsonl').write_text('')
    with pytest.raises(LLMBenchError, match='is empty'): M.scan_log(tmp_path/'e.jsonl')
    (tmp_path/'g.jsonl').write_text('garbage\n')
    with pytest.raises(LLMBenchError, match=r"has 1 lines but none is a request record; first: g.jsonl:1: not JSON"):
        M.scan_log(tmp_path/'g.jsonl')
    p = _write(tmp_path/'r.jsonl', [_rec(i) for i in range(30)])
    with pytest.raises(LLMBenchError, match=r"window '1h' leaves 1 window\(s\) in the log \(29.1 s\).*smaller window"):
        M.analyze(M.scan_log(p, '1h'), M.monitor_rules(window='1h'))
    with pytest.raises(LLMBenchError, match='write a duration like 60s'): M.scan_log(p, '10 minutes')
    with pytest.raises(LLMBenchError, match='no such file'): M.scan_log(tmp_path/'missing.jsonl')


def test_out_of_order_counted_and_time_windows_use_ts(tmp_path):
    order = [0, 1, 2, 15, 3, 4, 16, 17, 5, 18]  # two requests overtaken, by 12 s each
    sc = M.scan_log(_write(tmp_path/'r.jsonl', [_rec(i) for i in order]), '10s')
    assert sc.out_of_order == 2 and sc.max_back_s == pytest.approx(12)
    assert [w.n for w in sc.windows] == [6, 4]
    assert [w.n for w in M.scan_log(tmp_path/'r.jsonl', '5req').windows] == [5, 5]  # request windows: log order


def test_rotated_files_read_oldest_first(tmp_path):
    recs = [_rec(i) for i in range(30)]
    _write(tmp_path/'requests.jsonl.2', recs[:10]); _write(tmp_path/'requests.jsonl.1', recs[10:20])
    p = _write(tmp_path/'requests.jsonl', recs[20:])
    sc = M.scan_log(p, '10s')
    assert sc.n == 30 and sc.out_of_order == 0 and [w.n for w in sc.windows] == [10, 10, 10]
    assert [Path(f).name for f in sc.stats['files']] == ['requests.jsonl.2', 'requests.jsonl.1', 'requests.jsonl']


def test_health_figures_exact(tmp_path):
    recs = [_rec(i, latency_s=0.1*(i + 1), status=500 if i == 3 else 200, completion_tokens=10) for i in range(10)]
    h = M.health(M.scan_log(_write(tmp_path/'r.jsonl', recs), '10s'))[0]
    assert h['requests'] == 10 and h['error_rate'] == 0.1 and h['status'] == {'200': 9, '500': 1}
    assert h['latency_p50'] == pytest.approx(0.5, rel=0.025) and h['latency_p95'] == pytest.approx(1.0, rel=0.025)
    assert h['tokens_per_s'] == pytest.approx(100/10) and h['batch_size'] == 1.0


def test_shift_detected_at_its_window_and_quiet_log_has_no_alert(tmp_path):
    syn = M.synthetic_log(tmp_path/'s.jsonl', n=1000, rate=10, shift_at=0.6)
    res = M.analyze(M.scan_log(syn['path'], '10s'), M.monitor_rules(window='10s'))
    fa = M.first_alerts(res)
    assert fa['flagged_share'] == 6 and fa['error_rate'] == 6 and min(a['window'] for a in res['alerts']) == 6
    quiet = M.synthetic_log(tmp_path/'q.jsonl', n=1000, rate=10, shift_at=1.0, seed=3)
    assert M.analyze(M.scan_log(quiet['path'], '10s'), M.monitor_rules(window='10s'))['alerts'] == []


def test_drift_against_the_models_training_data(tmp_path, ckpt):
    syn = M.synthetic_log(tmp_path/'s.jsonl', n=400, rate=10)
    res = M.analyze(M.scan_log(syn['path'], '10s', max_texts=60), M.monitor_rules(window='10s', permutations=300),
                    str(ckpt))
    d = res['drift']
    assert d['reference_distribution'].startswith('embedded:python-docs train split')
    assert d['tokens'][3]['jsd'] > d['tokens'][1]['jsd'] and d['tokens'][3]['p_value'] < 0.01 < d['tokens'][1]['p_value']
    assert d['perplexity'][3]['perplexity'] > d['perplexity'][0]['perplexity']
    assert M.first_alerts(res)['drift_tokens'] == 2  # the shift starts window 2 (request 200 of 400, 100 per window)


def test_quality_fields_trended_when_present(tmp_path):
    recs = [_rec(i, feedback=1.0 if i < 20 else -1.0) for i in range(40)]
    res = M.analyze(M.scan_log(_write(tmp_path/'r.jsonl', recs), '20req'), M.monitor_rules(window='20req'))
    assert [q['mean_feedback'] for q in res['quality']] == [1.0, -1.0]


def _cli(*argv):
    from llmbench.cli import main
    with contextlib.redirect_stdout(io.StringIO()) as o, contextlib.redirect_stderr(io.StringIO()) as e:
        rc = main(['monitor', *map(str, argv)])
    return rc, o.getvalue() + e.getvalue()


def test_llmbench_monitor_exit_codes(tmp_path):
    shift = M.synthetic_log(tmp_path/'a'/'requests.jsonl', n=600, rate=10)
    rc, out = _cli(shift['path'], '--window', '10s')
    assert rc == 1 and 'ALERT window 3' in out
    d = tmp_path/'a'/'monitor'
    assert sorted(p.name for p in d.iterdir()) == ['dashboard.html', 'monitor.json', 'monitor.png']
    assert json.loads((d/'monitor.json').read_text())['first_alerts']['flagged_share'] == 3
    assert '<h2>Alerts</h2>' in (d/'dashboard.html').read_text()
    quiet = M.synthetic_log(tmp_path/'b'/'requests.jsonl', n=600, rate=10, shift_at=1.0)
    rc, out = _cli(quiet['path'], '--window', '10s', '--out', tmp_path/'q')
    assert rc == 0 and '0 alert(s)' in out
    rc, out = _cli(tmp_path/'nope.jsonl')
    assert rc == 2 and 'no such file' in out
    rc, out = _cli(quiet['path'], '--window', '1h', '--out', tmp_path/'big')
    assert rc == 2 and 'pass a smaller window' in out and not (tmp_path/'big'/'monitor.json').exists()


class _Fake(BaseHTTPRequestHandler):
    "An OpenAI-style stub: /v1/models and /v1/completions, 400 for prompts containing 'idiot'."
    seen = []
    def log_message(self, *a): pass
    def _send(self, code, body):
        b = json.dumps(body).encode(); self.send_response(code)
        self.send_header('Content-Type', 'application/json'); self.send_header('Content-Length', str(len(b)))
        self.end_headers(); self.wfile.write(b)
    def do_GET(self): self._send(200, {'data': [{'id': 'fake'}]})
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
        _Fake.seen.append(body)
        if 'idiot' in body['prompt']: return self._send(400, {'error': {'code': 'content_filter'}})
        self._send(200, {'choices': [{'text': ' ok', 'index': 0}]})


def test_simulate_traffic_plan_and_waves():
    pools = dict(in_domain=['the module'], out_of_domain=['zq xylo'], provocative=['you idiot'], pii=M.pii_prompts(3))
    plan = M.traffic_plan(pools, 40, seed=0)
    srv = ThreadingHTTPServer(('127.0.0.1', 0), _Fake)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try: sent = M.simulate_traffic(f'http://127.0.0.1:{srv.server_port}', plan, concurrency=4, max_tokens=3)
    finally: srv.shutdown()
    assert [s['i'] for s in sent] == list(range(40)) and {b['model'] for b in _Fake.seen} == {'fake'}
    assert all(s['status'] == (400 if s['kind'] == 'provocative' else 200) for s in sent)
    assert sum(s['kind'] != 'in_domain' for s in sent[20:]) > sum(s['kind'] != 'in_domain' for s in sent[:20])
    with pytest.raises(LLMBenchError, match='no model list'): M.simulate_traffic('http://127.0.0.1:9', plan[:1])


def test_real_server_log_through_llmbench_monitor(tmp_path, ckpt):
    serve = pytest.importorskip('llmbench.serve')
    pools = dict(in_domain=['The with statement', 'A module is'], out_of_domain=['zq xylo vrak'],
                 provocative=['You are such a'], pii=M.pii_prompts(3))
    h = serve.serve_in_background(str(ckpt), log_path=str(tmp_path/'requests.jsonl'), log_text=True)
    try: sent = M.simulate_traffic(h.url, M.traffic_plan(pools, 48, seed=1), concurrency=4, max_tokens=4)
    finally: h.stop()
    assert all(s['status'] in (200, 400) for s in sent)
    rc, out = _cli(tmp_path/'requests.jsonl', '--window', '12req', '--model', ckpt, '--permutations', '200')
    r = json.loads((tmp_path/'monitor'/'monitor.json').read_text())
    assert rc in (0, 1) and r['read']['records'] == 48 and r['read']['n_bad'] == 0 and len(r['windows']) == 4
    assert len(r['drift']['tokens']) == 4 and r['health'][0]['latency_p50'] > 0


def test_bench_monitor_small_and_registered():
    from llmbench.cli import bench_function
    assert bench_function('monitor') is M.bench_monitor
    b = M.bench_monitor(size_mb=3, window='1m')
    assert b['records'] > 5000 and b['peak_rss_mb'] < 500 and b['MB_per_s'] > 0 and 2.5 < b['size_mb'] < 3.5
    with pytest.raises(LLMBenchError, match='size_mb'): M.bench_monitor(size_mb=0)


def test_log_without_text_says_what_it_cannot_tell(tmp_path, ckpt):
    syn = M.synthetic_log(tmp_path/'s.jsonl', n=400, rate=10, text=False)
    res = M.analyze(M.scan_log(syn['path'], '10s'), M.monitor_rules(window='10s'), str(ckpt))
    assert res['drift'] == {'skipped': 'the log holds no prompt text (the server ran with log_text = false)'}
    assert res['behaviour']['toxicity'] == [] and 'log_text = false' in res['behaviour']['toxicity_source']
    fa = M.first_alerts(res)
    assert fa['moderation_score'] == 2 and fa['flagged_share'] == 2 and fa['drift_tokens'] is None
