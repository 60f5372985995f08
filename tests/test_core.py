"Core settings, the runner's parameter checks, and papermill runs of 00_core / 00a_runner."
import json, os
from pathlib import Path
import pytest
from llmbench.core import LLMBenchError, get_settings, write_results, read_results
from llmbench.runner import NotebookFailed, find_notebook, plan_params, run, run_notebook, describe

NBS = Path(__file__).resolve().parents[1]/'nbs'


def test_settings_precedence(tmp_path, monkeypatch):
    ini = tmp_path/'settings.ini'
    ini.write_text('[llmbench]\nversion = 1\n[data]\ncorpus = embedded:python-code\n[paths]\ncache_dir = c\n')
    monkeypatch.setenv('LLMBENCH_SETTINGS', str(ini))
    s = get_settings()
    assert s['data']['corpus'] == 'embedded:python-code'          # file beats built-in default
    assert s.path('cache_dir') == tmp_path/'c'                      # relative to the file
    monkeypatch.setenv('LLMBENCH_DATA_CORPUS', 'embedded:licenses')
    assert get_settings()['data']['corpus'] == 'embedded:licenses'  # environment beats file


def test_settings_file_matches_builtin_defaults(monkeypatch):
    "settings.ini in the repo documents the same values as llmbench.core.DEFAULTS."
    from llmbench.core import DEFAULTS
    monkeypatch.delenv('LLMBENCH_SETTINGS', raising=False)
    s = get_settings(NBS.parent/'settings.ini', env={})
    for sec, kv in DEFAULTS.items():
        for k, v in kv.items(): assert s[sec][k] == v, (sec, k)


def test_missing_settings_file_named(monkeypatch, tmp_path):
    monkeypatch.setenv('LLMBENCH_SETTINGS', str(tmp_path/'nope.ini'))
    with pytest.raises(LLMBenchError, match='nope.ini'): get_settings()


def test_unknown_param_lists_valid_names():
    nb = find_notebook('00_core', NBS)
    with pytest.raises(LLMBenchError, match=r"'matmul_size'.*valid names: matmul_n, matmul_seconds, run_dir"):
        plan_params([nb], cli_params=[('matmul_size', '3')])


def test_wrong_type_fails_before_running(tmp_path):
    with pytest.raises(LLMBenchError, match=r"00_core: parameter matmul_n='big' is not a valid int"):
        run(['00_core'], params=[('matmul_n', 'big')], out=tmp_path/'r', log=lambda s: None)
    assert not (tmp_path/'r').exists()


def test_preset_file_with_unknown_name(tmp_path):
    nbs = tmp_path/'nbs'; (nbs/'params').mkdir(parents=True)
    src = find_notebook('00_core', NBS)
    (nbs/src.name).write_bytes(src.read_bytes())
    (nbs/'params'/'00_core.demo.yaml').write_text('matmul_nn: 3\n')
    with pytest.raises(LLMBenchError, match=r"00_core: parameter 'matmul_nn' \(from preset demo\)"):
        plan_params([nbs/src.name], preset='demo')


def test_failure_names_notebook_cell_and_error(tmp_path):
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.metadata['kernelspec'] = dict(name='python3', display_name='python3', language='python')
    p = nbformat.v4.new_code_cell('run_dir = ""\nx = 1'); p.metadata['tags'] = ['parameters']
    nb.cells = [p, nbformat.v4.new_code_cell('y = 2'), nbformat.v4.new_code_cell('raise ValueError("boom at x=%d" % x)')]
    f = tmp_path/'00_fail.ipynb'; nbformat.write(nb, str(f))
    with pytest.raises(NotebookFailed) as e: run_notebook(f, tmp_path/'run', {'x': 7}, html=False)
    msg = str(e.value)
    assert '00_fail' in msg and 'cell 3' in msg and 'ValueError: boom at x=7' in msg
    assert (tmp_path/'run'/'00_fail'/'00_fail.ipynb').is_file()  # partial output kept


def test_core_notebook_smoke_and_params(run_nb, tmp_path):
    r = run_nb('00_core')
    assert r['matmul_peak_gflops'] > 0.1
    r2 = run_nb('00_core', run_dir=tmp_path/'r2', matmul_n=128, matmul_seconds=0.05)
    assert r2['matmul_peak_gflops'] > 0.1 and (tmp_path/'r2'/'00_core'/'results.json').is_file()


def test_runner_report(tmp_path):
    rd = run(['00_core'], params=[('matmul_n', '64'), ('matmul_seconds', '0.05')], out=tmp_path/'r', log=lambda s: None)
    rep = (rd/'report.html').read_text()
    assert '00_core/00_core.html' in rep and 'matmul_peak_gflops' in rep
    assert (rd/'00_core'/'00_core.html').is_file()


def test_list_describes_params_and_presets():
    txt = describe(NBS)
    assert '00_core  [presets: smoke' in txt and 'matmul_n' in txt


def test_runner_notebook_smoke_and_params(run_nb, tmp_path):
    r = run_nb('00a_runner')
    assert r['demo_notebook'] == '00_core' and r['demo_results']['matmul_peak_gflops'] > 0
    assert '01_data' in r['notebooks'] and r['presets'] == ['smoke', 'demo', 'full']
    r2 = run_nb('00a_runner', run_dir=tmp_path/'r2', demo_params={'matmul_n': 64, 'matmul_seconds': 0.05})
    assert r2['demo_results']['matmul_peak_gflops'] > 0


def test_cli_notebook_smoke_and_params(run_nb, tmp_path):
    r = run_nb('99_cli')
    b = r['bench_results']
    assert b['arch'] == 'gpt' and b['steps'] == 3 and b['ms_per_step'] > 0 and 0 < b['mfu'] < 1.5
    r2 = run_nb('99_cli', run_dir=tmp_path/'r2', bench='')
    assert r2['bench_results'] is None and 'train' in r2['benches']


def test_cli_exit_codes(tmp_path, capsys):
    from llmbench.cli import main
    assert main(['run', '00_core', '-p', 'matmul_n', 'big', '--out', str(tmp_path/'r')]) == 2
    assert "matmul_n='big'" in capsys.readouterr().err
    assert main(['bench', 'model', '--no-such-option', '1']) == 2
    assert 'valid: --arch' in capsys.readouterr().err


_FAULTS = '''
import resource, sys, torch
from llmbench.core import keep_heap
def faults(n=20):  # minor page faults per round of a step's allocations: tensors of activation sizes, made and freed
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        ts = [torch.empty(k).fill_(1.0) for k in (98_304, 294_912, 196_608, 393_216, 393_216, 1_048_576) * 4]
        del ts
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / n
before = faults(); kept = keep_heap(); faults(5); print(before, kept, faults())
'''


@pytest.mark.skipif(__import__('platform').libc_ver()[0] != 'glibc', reason='keep_heap tunes glibc malloc only')
def test_keep_heap_stops_page_faults_between_rounds():
    "In a fresh process, freed tensors come back without page faults once keep_heap() is set (from settings: 1024 MiB)."
    import subprocess, sys
    out = subprocess.run([sys.executable, '-c', _FAULTS], capture_output=True, text=True, check=True).stdout.split()
    before, kept, after = float(out[0]), out[1], float(out[2])
    assert kept == 'True', out
    assert after < 10 and after <= before, (before, after)


def test_keep_heap_bad_setting_named(monkeypatch):
    from llmbench.core import keep_heap
    monkeypatch.setenv('LLMBENCH_TRAIN_KEEP_HEAP_MB', 'lots')
    with pytest.raises(LLMBenchError, match=r"keep_heap_mb='lots'.*LLMBENCH_TRAIN_KEEP_HEAP_MB"): keep_heap()
    monkeypatch.setenv('LLMBENCH_TRAIN_KEEP_HEAP_MB', '0')
    assert keep_heap() is False


def test_write_results_names_the_key_it_cannot_write(tmp_path):
    "A value JSON cannot hold (the demo once stored a function under bench.compile) is named by its key path."
    write_results(tmp_path, {'n': 1})
    with pytest.raises(LLMBenchError, match=r'results\.bench\.compile = <built-in function print>: a builtin_function_or_method cannot be written as JSON'):
        write_results(tmp_path, {'n': 2, 'bench': {'ms': 1.0, 'compile': print}})
    with pytest.raises(LLMBenchError, match=r'results\.runs\[1\]\.x'):
        write_results(tmp_path, {'runs': [{'x': 1}, {'x': object()}]})
    assert read_results(tmp_path) == {'n': 1}  # nothing half-written: the earlier file stands
    assert [p.name for p in tmp_path.iterdir()] == ['results.json']


def test_run_outputs_respect_the_umask(tmp_path):
    "Atomic writes get the permissions a plain open()/mkdir() would (mkstemp alone gives 0600)."
    from llmbench.core import atomic_dir, atomic_write
    old = os.umask(0o022)
    try:
        f = write_results(tmp_path, {'n': 1})
        with atomic_dir(tmp_path/'ck') as t: atomic_write(t/'w.bin', b'1')
    finally: os.umask(old)
    assert [oct(p.stat().st_mode & 0o777) for p in (f, tmp_path/'ck', tmp_path/'ck'/'w.bin')] == ['0o644', '0o755', '0o644']


# --- reliability of the runner (issue 12): nothing lost, every bad input named, interruptions reported

def _cli(*args, env=None):
    import subprocess, sys
    return subprocess.run([str(Path(sys.executable).parent/'llmbench'), *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def test_rerun_into_a_finished_step_is_refused(tmp_path):
    rd = tmp_path/'R'
    run(['00_core'], params=[('matmul_n', '64'), ('matmul_seconds', '0.02')], out=rd, log=lambda s: None)
    before = (rd/'00_core'/'00_core.ipynb').read_bytes()
    with pytest.raises(LLMBenchError, match=r'00_core from an earlier run; pass --overwrite'):
        run(['00_core'], params=[('matmul_seconds', '0.01')], out=rd, log=lambda s: None)
    assert (rd/'00_core'/'00_core.ipynb').read_bytes() == before     # the earlier run is intact
    run(['00_core'], params=[('matmul_n', '32'), ('matmul_seconds', '0.01')], out=rd, overwrite=True, log=lambda s: None)
    nb = (rd/'00_core'/'00_core.ipynb').read_text()
    assert 'matmul_n = 32' in nb and 'matmul_n = 64' not in nb
    assert sorted(p.name for p in rd.iterdir()) == ['00_core', 'report.html']  # no leftovers of the old attempt


@pytest.mark.parametrize('kind', ['file', 'file_parent', 'readonly', 'proc'])
def test_unusable_out_is_named(tmp_path, kind):
    f = tmp_path/'f'; f.write_text('')
    ro = tmp_path/'ro'; ro.mkdir(); ro.chmod(0o500)
    out = {'file': f, 'file_parent': f/'sub', 'readonly': ro/'run', 'proc': Path('/proc/llmbench-run')}[kind]
    if kind == 'readonly' and os.geteuid() == 0:
        pytest.skip('root writes into a read-only folder; the file and /proc cases cover the same path')
    r = _cli('run', '00_core', '--out', str(out))
    assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr
    assert f'--out {out}:' in r.stderr and ('is a file' in r.stderr or 'cannot be used as a run directory' in r.stderr)


@pytest.mark.parametrize('kind', ['missing', 'folder', 'binary'])
def test_bad_params_file_is_named(tmp_path, kind):
    p = {'missing': tmp_path/'nope.yaml', 'folder': tmp_path, 'binary': tmp_path/'b.yaml'}[kind]
    if kind == 'binary': p.write_bytes(bytes(range(256)) * 4)
    r = _cli('run', '00_core', '-f', str(p), '--out', str(tmp_path/'run'))
    assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr
    assert str(p) in r.stderr and {'missing': 'no such file', 'folder': 'is a folder', 'binary': 'not a text file'}[kind] in r.stderr


def test_malformed_yaml_value_in_p_is_named():
    with pytest.raises(LLMBenchError, match=r"05_architectures: parameter archs='\[gpt, lstm' is not valid YAML"):
        plan_params([find_notebook('05_architectures', NBS)], cli_params=[('archs', '[gpt, lstm')])


@pytest.mark.parametrize('name,value,rule', [('lr', '-1', r'\(0, inf\)'), ('max_steps', '0', r'\[1, inf\)'),
                                             ('batch_size', '-3', r'\[1, inf\)'), ('dropout', '1.5', r'\[0, 1\)')])
def test_value_rules_checked_before_any_cell_runs(tmp_path, name, value, rule):
    with pytest.raises(LLMBenchError, match=rf"04_train: parameter {name}='{value}' is out of range: it must be in {rule}"):
        run(['04_train'], params=[(name, value)], out=tmp_path/'r', log=lambda s: None)
    assert not (tmp_path/'r').exists()


def test_ctrl_c_reports_one_line_and_keeps_the_partial_step(tmp_path):
    "SIGINT to the runner's process group, as a terminal's Ctrl-C: one line, exit 130, the step listed as interrupted."
    import signal, subprocess, sys, time
    p = subprocess.Popen([str(Path(sys.executable).parent/'llmbench'), 'run', '00_core', '04_train', '-p', 'max_steps', '100000',
                          '--out', str(tmp_path/'R')], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline and not (tmp_path/'R'/'04_train'/'history.jsonl').is_file(): time.sleep(0.5)
    os.killpg(p.pid, signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert err.strip().splitlines() == [err.strip()] and err.startswith('llmbench: interrupted: 04_train: interrupted after')
    assert (tmp_path/'R'/'04_train'/'04_train.ipynb').is_file()
    report = (tmp_path/'R'/'report.html').read_text()
    assert "<td class='ok'>ok</td>" in report and "<td class='interrupted'>interrupted</td>" in report


def test_no_stray_keyboardinterrupt_line_and_no_socket_files_left(tmp_path):
    "A finished run leaves no kernel sockets, and shutting its kernel down logs no 'KeyboardInterrupt caught in kernel'."
    import subprocess, sys, tempfile
    p = subprocess.Popen([str(Path(sys.executable).parent/'llmbench'), 'run', '00_core', '-p', 'matmul_n', '32', '-p',
                          'matmul_seconds', '0.01', '--out', str(tmp_path/'R')], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = p.communicate(timeout=300)
    assert p.returncode == 0 and 'KeyboardInterrupt' not in out, out
    assert not list(Path(tempfile.gettempdir()).glob(f'llmbench-kernel-{p.pid}-*'))  # sockets are named by the runner's pid


def test_sockets_of_a_killed_runner_are_cleaned(tmp_path):
    from llmbench.runner import clean_kernel_sockets
    stale = [tmp_path/f'llmbench-kernel-999999999-abcdef-{i}' for i in range(1, 6)]
    for f in stale: f.write_text('')
    live = tmp_path/f'llmbench-kernel-{os.getpid()}-abcdef-1'; live.write_text('')
    assert clean_kernel_sockets(tmp_path) == 5 and [p.name for p in tmp_path.iterdir()] == [live.name]
