"The package is what nbdev makes of the notebooks; notebooks are clean, parameterized, and pass nbdev-test."
import filecmp, importlib, json, os, re, shutil, subprocess, sys, warnings
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NOTEBOOKS = sorted(p for p in (ROOT/'nbs').glob('*.ipynb'))
PIPELINE = [p for p in NOTEBOOKS if re.match(r'^\d+[a-z]?_', p.name)]  # the runner's steps: index and moved_* are not


def _copy_project(dst):
    for name in ('pyproject.toml', 'settings.ini'): shutil.copy(ROOT/name, dst/name)
    shutil.copytree(ROOT/'nbs', dst/'nbs', ignore=shutil.ignore_patterns('.ipynb_checkpoints'))


def test_package_equals_nbdev_export(tmp_path):
    _copy_project(tmp_path)
    subprocess.run([str(BIN/'nbdev-export')], cwd=tmp_path, check=True, capture_output=True)
    made = sorted(p.name for p in (tmp_path/'llmbench').glob('*.py'))
    have = sorted(p.name for p in (ROOT/'llmbench').glob('*.py'))
    assert made == have, f"modules differ: exported {made}, committed {have}"
    _, mismatch, errors = filecmp.cmpfiles(tmp_path/'llmbench', ROOT/'llmbench', made, shallow=False)
    assert not mismatch and not errors, f"llmbench/ differs from nbdev-export of nbs/ in {mismatch + errors}: edit the notebooks, then run nbdev-export"


def test_notebooks_are_clean(tmp_path):
    _copy_project(tmp_path)
    subprocess.run([str(BIN/'nbdev-clean')], cwd=tmp_path, check=True, capture_output=True)
    dirty = [p.name for p in NOTEBOOKS if (tmp_path/'nbs'/p.name).read_bytes() != p.read_bytes()]
    assert not dirty, f"run nbdev-clean: {dirty} are not clean"


@pytest.mark.parametrize('nb', PIPELINE, ids=lambda p: p.stem)
def test_notebook_has_kernel_and_parameters(nb):
    d = json.loads(nb.read_text())
    assert d['metadata']['kernelspec']['name'] == 'python3'
    tagged = [c for c in d['cells'] if 'parameters' in c.get('metadata', {}).get('tags', [])]
    assert len(tagged) == 1, 'exactly one cell tagged parameters'
    assert ''.join(tagged[0]['source']).lstrip().startswith('run_dir = ""'), 'the first parameter is run_dir'


def test_readme_is_index_notebook(tmp_path):
    subprocess.run([str(BIN/'jupyter'), 'nbconvert', '--to', 'markdown', '--log-level', 'WARN', str(ROOT/'nbs'/'index.ipynb'),
                    '--output-dir', str(tmp_path), '--output', 'README'], check=True, capture_output=True)
    assert (tmp_path/'README.md').read_text() == (ROOT/'README.md').read_text(), 'README.md is made from nbs/index.ipynb: run `make readme`'


def test_ci_runs_readme_test_command():
    readme, ci = (ROOT/'README.md').read_text(), (ROOT/'.ci'/'run').read_text()
    assert "make test" in readme and "make demo" in readme
    lines = [l.strip() for l in ci.splitlines()]
    assert lines.index("make test") < lines.index("make demo"), ".ci/run runs both README commands: make test, then make demo"


def test_nbdev_test():
    "Every notebook's inline checks pass (nbdev-test runs them in-process, in parallel)."
    r = subprocess.run([str(BIN/'nbdev-test'), '--n-workers', '2', '--timing'], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]


@pytest.mark.parametrize('nb', PIPELINE, ids=lambda p: p.stem)
def test_papermill_sees_every_parameter(nb):
    "papermill's own inspection (`papermill --help-notebook`) parses every parameter line (it skips comments with '=')."
    import papermill as pm
    from llmbench.runner import notebook_params
    assert set(pm.inspect_notebook(str(nb))) == set(notebook_params(nb))


# old module -> (its new home, names the old path served); kept for one release
MOVED_MODULES = {'llmbench.compare': ('llmbench.architectures', ['NGramLM', 'study_table', 'budget_plan', '_ranked']),
                 'llmbench.evaluation': ('llmbench.evaluate', ['score_interval', 'paired_bpb', 'find_checkpoints'])}


@pytest.mark.parametrize('old', MOVED_MODULES)
def test_old_module_paths_import_with_deprecation_warning(old):
    "`llmbench.compare` and `llmbench.evaluation` still import: every name is the new module's object, with a warning."
    new_name, names = MOVED_MODULES[old]
    mod, new = importlib.import_module(old), importlib.import_module(new_name)
    for name in names:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            assert getattr(mod, name) is getattr(new, name), name
        assert [x.category for x in w] == [DeprecationWarning], (name, w)
        assert f'{new_name}.{name}' in str(w[0].message)
    with pytest.warns(DeprecationWarning, match=new_name):
        exec(f'from {old} import {names[0]} as got', ns := {})
    assert ns['got'] is getattr(new, names[0])
    with pytest.warns(DeprecationWarning, match=new_name):
        exec(f'from {old} import *', star := {})
    assert {k: star[k] for k in new.__all__} == {k: getattr(new, k) for k in new.__all__}  # star import forwards too
    with pytest.raises(AttributeError): mod.no_such_name
