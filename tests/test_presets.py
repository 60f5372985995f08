"""Every preset's code runs: the whole pipeline with the demo and the full presets' values, sizes cut by `--scale tiny`.

A branch that only a preset switches on (a benchmark, a sweep, a flag) runs here exactly as `make demo` or a full run
would take it; only steps, widths and sample counts shrink (nbs/params/<stem>.tiny.yaml)."""
import ast, json
from pathlib import Path
import nbformat, pytest, yaml
from llmbench.runner import PRESETS, SCALES, available_presets, list_notebooks, notebook_params, plan_params, run

NBS = Path(__file__).resolve().parents[1]/'nbs'


@pytest.mark.parametrize('preset', ['demo', 'full'])
def test_pipeline_runs_every_preset_branch_at_tiny_scale(preset, tmp_path, monkeypatch):
    monkeypatch.setenv('LLMBENCH_PATHS_RUNS_DIR', str(tmp_path/'runs'))
    nbs = list_notebooks()
    out = run(preset=preset, scale='tiny', out=tmp_path/'run', log=lambda s: None)
    for nb in nbs:
        assert (out/nb.stem/f'{nb.stem}.ipynb').is_file(), nb.stem
        if nb.stem != '99_cli': assert (out/nb.stem/'results.json').is_file(), f'{nb.stem} wrote no results.json'
    report = (out/'report.html').read_text()
    assert report.count("class='ok'") == len(nbs) and "class='failed'" not in report


def _size_keys(nb):
    p = nb.parent/'params'/f'{nb.stem}.tiny.yaml'
    return yaml.safe_load(p.read_text()) if p.is_file() else {}


@pytest.mark.parametrize('nb', list_notebooks(NBS), ids=lambda p: p.stem)
def test_scale_changes_only_sizes(nb):
    "With --scale tiny every parameter keeps the preset's value except the sizes the scale file names."
    spec, sizes = notebook_params(nb), _size_keys(nb)
    assert set(sizes) <= set(spec), f'{nb.stem}.tiny.yaml names undeclared parameters {set(sizes) - set(spec)}'
    assert all(spec[k]['type'] in ('int', 'float', 'list', 'str') for k in sizes), 'a scale file names sizes only'
    for preset in available_presets(nb):
        full, tiny = plan_params([nb], preset)[nb.stem], plan_params([nb], preset, scale='tiny')[nb.stem]
        changed = {k for k in set(full) | set(tiny) if full.get(k) != tiny.get(k)}
        assert changed <= set(sizes), (preset, changed - set(sizes))
        if preset != 'smoke':  # a preset's size is scaled unless the preset leaves it 0/empty (off, or all)
            assert {k for k in changed} == {k for k in sizes if full.get(k, ast.literal_eval(spec[k]['default']))
                                             and full.get(k, ast.literal_eval(spec[k]['default'])) != sizes[k]}


@pytest.mark.parametrize('nb', list_notebooks(NBS), ids=lambda p: p.stem)
def test_no_parameter_is_shadowed_by_a_definition(nb):
    "A parameter that a later `def`, `class` or `import` rebinds is silently replaced (the demo once passed a function)."
    params = set(notebook_params(nb))
    bound = set()
    for c in nbformat.read(str(nb), as_version=4).cells:
        if c.cell_type != 'code' or 'parameters' in c.metadata.get('tags', []): continue
        try: tree = ast.parse('\n'.join(l for l in c.source.splitlines() if not l.lstrip().startswith(('%', '!'))))
        except SyntaxError: continue
        todo = list(tree.body)  # module scope only: a method or a local import binds nothing the notebook sees
        while todo:
            node = todo.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): bound.add(node.name); continue
            if isinstance(node, (ast.Import, ast.ImportFrom)): bound |= {(a.asname or a.name).split('.')[0] for a in node.names}
            todo += [n for f in ('body', 'orelse', 'finalbody', 'handlers') for n in getattr(node, f, [])]
    assert not params & bound, f'{nb.stem}: parameters {sorted(params & bound)} are rebound by a def/class/import'
