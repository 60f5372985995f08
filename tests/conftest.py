"Shared fixtures: run a notebook through papermill and read its results.json."
import os, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
os.environ.setdefault('LLMBENCH_SETTINGS', str(ROOT/'settings.ini'))


@pytest.fixture
def run_nb(tmp_path):
    """`run_nb(stem, run_dir=None, **params) -> dict`: execute `nbs/<stem>.ipynb` with papermill
    (parameters validated and converted as `llmbench run` does) and return its results.json."""
    from llmbench.runner import find_notebook, plan_params, run_notebook

    def _run(stem, run_dir=None, **params):
        nb = find_notebook(stem, NBS)
        checked = plan_params([nb], 'smoke', [(k, v if isinstance(v, str) else repr(v)) for k, v in params.items()])[nb.stem]
        return run_notebook(nb, run_dir or tmp_path/'run', checked, html=False)
    return _run
