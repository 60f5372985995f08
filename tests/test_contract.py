"""The pipeline contract: a shared parameter means one thing in every notebook, the data block is everywhere data is
touched, and a checkpoint is scored on its own held-out split."""
import ast
from pathlib import Path
import pytest
from llmbench.core import LLMBenchError
from llmbench.runner import list_notebooks, notebook_params, plan_params

NBS = Path(__file__).resolve().parents[1]/'nbs'
SPECS = {nb.stem: notebook_params(nb) for nb in list_notebooks(NBS)}
DATA_BLOCK = {'corpus': ('str', ''), 'tokenizer': ('str', ''), 'split': ('str', ''), 'data_seed': ('int', -1)}


def test_shared_names_have_one_type():
    "Every parameter name declared by two or more notebooks has one type (so one `-p NAME VALUE` suits all of them)."
    seen = {}
    for stem, spec in SPECS.items():
        for k, v in spec.items(): seen.setdefault(k, {}).setdefault(v['type'], []).append(stem)
    mixed = {k: t for k, t in seen.items() if len(t) > 1}
    assert not mixed, f'parameters with more than one type: {mixed}'


@pytest.mark.parametrize('stem', [s for s, sp in SPECS.items() if 'corpus' in sp])
def test_every_step_that_touches_data_has_the_data_block(stem):
    spec = SPECS[stem]
    for k, (t, default) in DATA_BLOCK.items():
        if k == 'tokenizer' and ('tokenizers' in spec or 'base' in spec): continue  # 02 compares several; 09's base brings one
        assert k in spec, f'{stem}: no {k} parameter (the data block is corpus, tokenizer, split, data_seed)'
        assert spec[k]['type'] == t, f"{stem}: {k} is a {spec[k]['type']}; in the data block it is a {t}"
        if k in ('split', 'data_seed'):  # the corpus may default to a step's own domain (09_finetune's new data)
            assert ast.literal_eval(spec[k]['default']) == default, \
                f"{stem}: {k} = {spec[k]['default']}; the data block's default is {default!r} (settings.ini decides)"
    seed_help = spec.get('seed', {}).get('help', '')
    assert 'split' not in seed_help or 'data_seed' in seed_help, f'{stem}: the split seed is data_seed, not seed'


def test_scored_split_is_eval_split():
    for stem, spec in SPECS.items():
        if 'eval_split' in spec: assert ast.literal_eval(spec['eval_split']['default']) in ('val', 'test'), stem
        if 'split' in spec: assert 'scored' not in spec['split']['help'], f'{stem}: the scored split is eval_split'


def test_whole_run_values_reach_every_notebook():
    "`llmbench run -p split tail:0.1 -p data_seed 1 -p archs gpt,lstm` plans one value per name for every notebook."
    nbs = list_notebooks(NBS)
    plan = plan_params(nbs, cli_params=[('split', 'tail:0.1'), ('data_seed', '1'), ('archs', 'gpt,lstm')])
    for stem, vals in plan.items():
        if 'split' in SPECS[stem]: assert vals['split'] == 'tail:0.1', stem
        if 'data_seed' in SPECS[stem]: assert vals['data_seed'] == 1, stem
        if 'archs' in SPECS[stem]: assert vals['archs'] == ['gpt', 'lstm'], stem
    assert sum('archs' in s for s in SPECS.values()) >= 3


def test_checkpoint_scored_on_its_own_split(tmp_path):
    "A checkpoint records its data block; scoring it on another split of the same corpus is refused, naming both."
    from llmbench.data import prepare_data, read_data_record, scoring_data
    from llmbench.models import build_model
    from llmbench.train import train
    data = prepare_data('embedded:python-docs', 'char', 'auto', 0)
    m = build_model('gpt', data.vocab_size, n_layer=1, n_head=2, n_embd=16, block_size=16)
    train(m, data, max_steps=2, eval_interval=1, batch_size=2, block_size=16, out_dir=tmp_path, progress=False)
    rec = read_data_record(tmp_path/'checkpoints'/'best')
    assert rec['split'] == 'doc:0.9/0.05/0.05' and rec['data_seed'] == 0 and rec['corpus_hash'] == data.meta['corpus']['hash']
    assert scoring_data(rec).meta['key'] == data.meta['key']  # the step's empty data block is filled from the checkpoint
    with pytest.raises(LLMBenchError, match=r"data_seed=0, but it would be scored with data_seed=1"):
        scoring_data(rec, data_seed=1, what='checkpoint best')
    with pytest.raises(LLMBenchError, match=r"split='doc:0.9/0.05/0.05', but it would be scored with split='tail:"):
        scoring_data(rec, split='tail:0.1')
    with pytest.raises(LLMBenchError, match=r"eval_split='train'"): scoring_data(rec, eval_split='train')


def test_metrics_refuses_a_run_checkpoint_on_another_split(run_nb, tmp_path):
    from llmbench.runner import NotebookFailed
    run = tmp_path/'run'
    run_nb('04_train', run_dir=run, max_steps=2, eval_interval=1, data_seed=0)
    with pytest.raises(NotebookFailed, match=r'data_seed=0, but it would be scored with data_seed=1'):
        run_nb('07_metrics', run_dir=run, data_seed=1)
    r = run_nb('07_metrics', run_dir=tmp_path/'run2', data_seed=1)  # alone: a model trained here on that split
    assert r['data']['block']['data_seed'] == 1
