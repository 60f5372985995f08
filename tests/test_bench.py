"The benchmarks (llmbench.bench, notebook 90_bench): the notebook at smoke size, the CLI names, the old import paths."
import importlib, warnings
import pytest
from llmbench.core import LLMBenchError

MOVED = {'data': ['make_text_file', 'bench_data'], 'models': ['bench_model_step', 'bench_compile'],
         'train': ['bench_train'], 'metrics': ['bench_perplexity'],
         'generate': ['time_decode', 'to_stock_gpt2', 'bench_generate']}


@pytest.mark.parametrize('mod', sorted(MOVED))
def test_old_import_paths_forward_with_a_warning(mod):
    "`from llmbench.<lesson> import bench_*` works for one release: the same object, with a DeprecationWarning."
    import llmbench.bench as B
    m = importlib.import_module(f'llmbench.{mod}')
    for name in MOVED[mod]:
        with pytest.warns(DeprecationWarning, match=f'llmbench.{mod}.{name} moved to llmbench.bench.{name}'):
            assert getattr(m, name) is getattr(B, name)
    with pytest.raises(AttributeError): m.no_such_name


def test_cli_benches_point_to_the_bench_module():
    from llmbench.cli import BENCHES, bench_function
    for k in ('data', 'model', 'train', 'metrics', 'generate', 'compile'):
        assert BENCHES[k][0] == 'llmbench.bench', k
        with warnings.catch_warnings():
            warnings.simplefilter('error')  # no deprecated path on the way
            assert callable(bench_function(k))


def test_bench_compile_names_unknown_variants():
    from llmbench.bench import bench_compile
    with pytest.raises(LLMBenchError, match=r"unknown \['compiled_fused'\]; choose from eager, eager_explicit"):
        bench_compile('eager,compiled_fused')


def test_notebook_smoke(run_nb):
    r = run_nb('90_bench')
    assert r['model']['ms_per_step'] > 0 and r['model']['speedup_vs_stock'] > 0
    assert r['train']['mfu'] > 0 and r['train']['page_faults_per_step'] >= 0
    assert r['metrics']['throughput']['speedup'] > 0
    assert set(r['generate']['archs']) == {'gpt', 'lstm', 'gru', 'cnn'} and r['data'] is None and r['compile'] is None
    assert all(all(a['same_tokens'].values()) for a in r['generate']['archs'].values())
