"The README's Python example runs as written."
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_python_example(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", (ROOT/'README.md').read_text(), re.S)
    assert blocks, 'README has a Python example'
    monkeypatch.chdir(tmp_path)  # its out_dir is relative
    exec(compile(blocks[0], 'README.md', 'exec'), {})
    out = capsys.readouterr().out
    assert 'bits per byte' in out.lower() or 'bits_per_byte' in out.lower() or 'ppl' in out.lower(), out[-2000:]
    assert (tmp_path/'runs'/'mine'/'checkpoints'/'best').is_dir()
