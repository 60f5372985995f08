"Shared fixtures: run a notebook through papermill and read its results.json."
import os, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
os.environ.setdefault('LLMBENCH_SETTINGS', str(ROOT/'settings.ini'))
# Tests run two at a time (pytest -n 2) on 2 cores, and each starts papermill kernels: one torch thread per process and
# passive OpenMP waits keep them from spinning against each other (set before torch is imported; kernels inherit it).
os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')


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
