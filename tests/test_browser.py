"""The JupyterLab path in a real browser: every step notebook is opened from JupyterLab's file browser and run with
Run > Run All Cells, in one JupyterLab server driven by Playwright and Chromium; the widgets must answer a person's
input.

Needs the `playwright` Python package (the `dev` extra) and a Chromium executable (`make browser` installs Debian's
`chromium`; or set LLMBENCH_CHROMIUM=/path/to/chromium). Without them every test here skips and says why, or fails
where LLMBENCH_BROWSER_REQUIRED=1 (for CI).
JupyterLab serves copies of the notebooks in the test's temp folder (runs and cache there too, autosave off): nbs/ is
never written. Screenshots of each notebook at the end, and of the widgets under test, land in `<tmp>/screenshots`.
"""
import base64, hashlib, io, json, os, re, shutil, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
STEP_NB = re.compile(r'^\d+[a-z]?_.+\.ipynb$')  # the pipeline notebooks, as `llmbench.runner.list_notebooks` finds them
STEPS = sorted(p.stem for p in NBS.iterdir() if STEP_NB.match(p.name))
NB_TIMEOUT_S = 240  # one notebook's Run All, from the click to an idle kernel
CHROMIUM_NAMES = ('chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'chrome')


def find_chromium():
    "A Chromium executable: $LLMBENCH_CHROMIUM, else the first of the usual names on PATH; None when there is none."
    if env := os.environ.get('LLMBENCH_CHROMIUM'): return env if Path(env).is_file() else None
    return next((p for n in CHROMIUM_NAMES if (p := shutil.which(n))), None)


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def _write_json(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True); path.write_text(json.dumps(obj, indent=1))


def _digests(folder):
    "sha256 of every notebook in `folder`."
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob('*.ipynb'))}


# JavaScript run in the page; `window.jupyterapp` exists because the server runs with --expose-app-in-browser.
# It reads the state JupyterLab shows (kernel status, prompts, outputs); every action goes through the UI.
JS_PANEL = """(path) => {
  for (const w of window.jupyterapp.shell.widgets('main')) if (w.context && w.context.path === path) return w;
  return null; }"""
JS_STATE = f"""(path) => {{
  const panel = window.jupyterapp && ({JS_PANEL})(path);
  const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
  if (!panel || !panel.context.isReady || !kernel) return {{ready: false}};
  const code = panel.content.widgets.filter(c => c.model.type === 'code');
  const prompt = c => (c.node.querySelector('.jp-InputPrompt') || {{}}).textContent || '';
  return {{ready: true, status: kernel.status, n_code: code.length,
          executed: code.filter(c => c.model.executionCount !== null).length,
          pending: code.filter(c => prompt(c).includes('*')).length}};
}}"""
JS_CELLS = f"""(path) => ({JS_PANEL})(path).content.widgets.map(c => {{
  const j = c.model.toJSON();
  return {{type: j.cell_type, source: j.source,
          execution_count: j.execution_count === undefined ? null : j.execution_count,
          outputs: (j.outputs || []).map(o => ({{
            output_type: o.output_type, ename: o.ename, evalue: o.evalue, traceback: o.traceback, name: o.name,
            text: o.text && [].concat(o.text).join('').slice(0, 2000), mimes: Object.keys(o.data || {{}})}}))}};
}})"""
# Record what one cell's output area shows over time (images, text, whether the cell is still running) from now on.
JS_WATCH = f"""([path, index]) => {{
  const cell = ({JS_PANEL})(path).content.widgets[index];
  const log = window.__llmbench_watch = [];
  const t0 = performance.now();
  const snap = () => {{
    const out = cell.node.querySelector('.jp-OutputArea');
    const imgs = out ? Array.from(out.querySelectorAll('img')).map(i => i.src) : [];
    const text = out ? out.innerText : '';
    const running = ((cell.node.querySelector('.jp-InputPrompt') || {{}}).textContent || '').includes('*');
    const last = log[log.length - 1];
    if (!last || last.running !== running || last.text !== text || last.imgs.join() !== imgs.join())
      log.push({{t: (performance.now() - t0) / 1000, running, imgs, text}});
  }};
  new MutationObserver(snap).observe(cell.node,
                                     {{subtree: true, childList: true, attributes: true, characterData: true}});
  snap();
}}"""


class Lab:
    "One JupyterLab server on copies of nbs/, one Chromium page, and each notebook run at most once (`run(stem)`)."

    def __init__(self, tmp, chromium):
        self.tmp, self.chromium, self.runs, self.proc, self.pw, self.log = tmp, chromium, {}, None, None, None
        self.shots = tmp/'screenshots'; self.shots.mkdir()

    def start(self):
        from playwright.sync_api import sync_playwright
        work = self.tmp/'lab'
        shutil.copytree(NBS, work/'nbs', ignore=shutil.ignore_patterns('.ipynb_checkpoints', '__pycache__'))
        for f in ('pyproject.toml', 'settings.ini'): shutil.copy2(ROOT/f, work/f)
        self.copies = _digests(work/'nbs')
        cfg = self.tmp/'jupyter'
        settings = cfg/'lab-user-settings'/'@jupyterlab'
        for plugin, values in (('notebook-extension/tracker', {'windowingMode': 'none'}),  # every cell in the DOM
                               ('docmanager-extension/plugin', {'autosave': False}),  # the copies stay as copied
                               ('apputils-extension/notification', {'checkForUpdates': False, 'fetchNews': 'false'})):
            _write_json(settings/f'{plugin}.jupyterlab-settings', values)
        # The kernels see the environment a person's JupyterLab would: no forced headless mode or matplotlib backend.
        env = {k: v for k, v in os.environ.items() if k not in ('LLMBENCH_HEADLESS', 'MPLBACKEND')}
        env.update(LLMBENCH_SETTINGS=str(work/'settings.ini'), LLMBENCH_PATHS_RUNS_DIR=str(self.tmp/'runs'),
                   LLMBENCH_PATHS_CACHE_DIR=str(self.tmp/'cache'), LLMBENCH_PATHS_NBS_DIR=str(work/'nbs'),
                   LLMBENCH_PATHS_DATA_DIR=str(ROOT/'data'),
                   JUPYTER_CONFIG_DIR=str(cfg/'config'), JUPYTER_RUNTIME_DIR=str(cfg/'runtime'),
                   JUPYTERLAB_SETTINGS_DIR=str(cfg/'lab-user-settings'),
                   JUPYTERLAB_WORKSPACES_DIR=str(cfg/'workspaces'), IPYTHONDIR=str(cfg/'ipython'))
        self.port, self.token = _free_port(), hashlib.sha256(os.urandom(16)).hexdigest()[:32]
        self.base = f'http://127.0.0.1:{self.port}'
        self.log = open(self.tmp/'jupyterlab.log', 'w')
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'jupyterlab', '--no-browser', '--ip=127.0.0.1', f'--port={self.port}',
             '--port-retries=0', f'--IdentityProvider.token={self.token}', f'--ServerApp.root_dir={work/"nbs"}',
             '--expose-app-in-browser'] + (['--allow-root'] if getattr(os, 'geteuid', lambda: 1)() == 0 else []),
            cwd=work/'nbs', env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f'{self.base}/api/status?token={self.token}', timeout=5): break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f'JupyterLab did not start; the end of {self.tmp/"jupyterlab.log"}:\n'
                                       + (self.tmp/'jupyterlab.log').read_text()[-3000:])
                time.sleep(0.5)
        self.pw = sync_playwright().start()
        self.browser = self.pw.chromium.launch(executable_path=self.chromium,
                                               args=['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'])
        self.page = self.browser.new_page(viewport={'width': 1400, 'height': 1000})
        self.page.on('dialog', lambda d: d.dismiss())
        self.load()
        return self

    def load(self):
        "JupyterLab in a fresh workspace, its file browser listing the notebooks."
        self.page.goto(f'{self.base}/lab?reset&token={self.token}')
        self.page.locator('.jp-DirListing-item', has_text=STEPS[0]).first.wait_for(timeout=90_000)

    def stop(self):
        for close in (lambda: self.browser.close(), lambda: self.pw.stop()):
            try: close()
            except Exception: pass
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try: self.proc.wait(20)
            except subprocess.TimeoutExpired: self.proc.kill(); self.proc.wait()
        if self.log: self.log.close()

    def run(self, stem):
        "Open `stem`, Run All Cells, wait for an idle kernel, exercise its widgets, screenshot; the result is cached."
        if stem not in self.runs:
            self.runs[stem] = r = self._run(stem)
            digest = lambda src: hashlib.sha1(src.encode()).hexdigest()[:10]
            _write_json(self.tmp/'results'/f'{stem}.json', {**r, 'watch': [  # to look at after a failure
                {**f, 'imgs': [digest(i) for i in f['imgs']]} for f in r.get('watch', [])]})
        return self.runs[stem]

    def _run(self, stem):
        page, name = self.page, f'{stem}.ipynb'
        r = dict(stem=stem, screenshot=str(self.shots/f'{stem}.png'))
        try:
            t0 = time.monotonic()
            page.locator('.jp-DirListing-item', has_text=re.compile(rf'^{re.escape(name)}')).first.dblclick()
            page.wait_for_function(f'p => {{ const s = ({JS_STATE})(p); return s.ready && s.status === "idle"; }}',
                                   arg=name, timeout=90_000)
            r['open_s'] = time.monotonic() - t0
            watch = WATCH.get(stem)
            if watch: page.evaluate(JS_WATCH, [name, watch(page.evaluate(JS_CELLS, name))])
            page.locator('.lm-MenuBar-itemLabel', has_text=re.compile(r'^Run$')).click()
            page.locator('.lm-Menu-itemLabel', has_text=re.compile(r'^Run All Cells$')).click()
            t0, stable = time.monotonic(), 0
            while stable < 3:  # idle with nothing queued, three polls in a row
                s = page.evaluate(JS_STATE, name)
                stable = stable + 1 if s['ready'] and s['status'] == 'idle' and s['pending'] == 0 else 0
                if time.monotonic() - t0 > NB_TIMEOUT_S:
                    r['timeout'] = f'still running after {NB_TIMEOUT_S} s: {s}'; break
                time.sleep(0.25)
            r['run_s'] = time.monotonic() - t0 - 0.5  # less the two confirming polls
            r['cells'] = page.evaluate(JS_CELLS, name)
            if watch:
                r['watch'] = page.evaluate('() => window.__llmbench_watch')
                imgs = list(dict.fromkeys(i for f in r['watch'] for i in f['imgs']))
                for k, src in enumerate(imgs):  # every distinct image the watched cell showed, in order, to look at
                    if src.startswith('data:image/png;base64,'):
                        (self.shots/f'{stem}-watched-{k}.png').write_bytes(_png_bytes(src))
            if interact := INTERACT.get(stem):
                try: r['interaction'] = interact(page, self.shots)
                except Exception as e: r['interaction'] = {'error': f'{type(e).__name__}: {e}'}
            page.evaluate(f'p => ({JS_PANEL})(p).content.widgets.at(-1).node.scrollIntoView()', name)
            page.screenshot(path=r['screenshot'])
            page.evaluate(f'async p => {{ const w = ({JS_PANEL})(p); await w.sessionContext.shutdown(); '
                          'w.dispose(); }', name)  # the kernel stops, the tab closes unsaved
        except Exception as e:
            r['error'] = f'{type(e).__name__}: {e}'
            try: page.screenshot(path=r['screenshot']); self.load()  # start the next notebook from a clean page
            except Exception: pass
        return r


def _cell_index(cells, *needles):
    "Index of the first code cell whose source contains every needle."
    i = next((i for i, c in enumerate(cells) if c['type'] == 'code' and all(n in c['source'] for n in needles)), None)
    if i is None: raise LookupError(f'no code cell contains {needles}: update WATCH in tests/test_browser.py')
    return i


def _explore_search(page, shots):
    "Type into the corpus browser's search box (then Enter): record the match count and the document shown."
    box = page.locator('.widget-vbox:has(input[placeholder="text or regular expression"])')
    search = box.locator('input[placeholder="text or regular expression"]')
    info, view = box.locator('.widget-html-content').nth(0), box.locator('.widget-html-content').nth(1)
    count = lambda: [int(x.replace(',', '')) for x in
                     re.match(r'([\d,]+) of ([\d,]+) documents match', info.inner_text()).groups()]
    shown = lambda: view.inner_text().strip()
    out = {'initial': (count(), shown()[:200])}

    def query(q):
        before = info.inner_text()
        search.click(); search.press('Control+a'); search.press_sequentially(q, delay=20); search.press('Enter')
        try: page.wait_for_function('([el, t]) => el.innerText !== t', arg=[info.element_handle(), before],
                                    timeout=5_000)
        except Exception: return False  # the same count as before
        return True
    q = 'zqxj-no-such-text'
    query(q); out['nonsense'] = (q, count(), shown())
    for q in ('lambda', 'decorator', 'generator', 'socket', 'thread', 'unicode', 'class', 'import', 'file'):
        if not query(q): continue
        n, total = count()
        if 0 < n < total:
            view.locator('mark').first.wait_for(timeout=5_000)
            marks = [m.lower() for m in view.locator('mark').all_inner_texts()][:5]
            out['query'] = (q, [n, total], shown()[:200], marks)
            break
    box.scroll_into_view_if_needed(); box.screenshot(path=shots/'02_explore-browser.png')
    return out


def _generate_prompt(page, shots):
    "Type a prompt into 08_generate's prompt widget (a text box in a cell output), start it, record the streamed text."
    boxes = page.locator('.jp-OutputArea input[type="text"], .jp-OutputArea textarea')
    if boxes.count() == 0: return {'widget': False}
    box = boxes.first
    cell = page.locator('.jp-CodeCell', has=box)
    area = cell.locator('.jp-OutputArea')
    page.evaluate("""(el) => {
        const log = window.__llmbench_stream = [], t0 = performance.now();
        new MutationObserver(() => { const t = el.innerText; if (!log.length || log[log.length - 1].text !== t)
          log.push({t: (performance.now() - t0) / 1000, text: t}); })
          .observe(el, {subtree: true, childList: true, characterData: true}); }""", area.element_handle())
    box.click(); box.press('Control+a'); box.press_sequentially('The ', delay=20)
    buttons = cell.locator('button', has_text=re.compile('generate|run|send', re.I))
    if buttons.count(): buttons.first.click()
    else: box.press('Enter')
    n, still = 0, 0
    for _ in range(120):  # until the text has not changed for a second (at most 30 s)
        page.wait_for_timeout(250)
        m = page.evaluate('() => window.__llmbench_stream.length')
        still, n = (still + 1 if m == n else 0), m
        if still >= 4 and n: break
    area.screenshot(path=shots/'08_generate-prompt.png')
    return {'widget': True, 'frames': page.evaluate('() => window.__llmbench_stream')}


WATCH = {'04_train': lambda cells: _cell_index(cells, 'callbacks=[LossPlot')}  # stem -> index of the cell to watch
INTERACT = {'02_explore': _explore_search, '08_generate': _generate_prompt}  # stem -> widget interaction after Run All


def _unavailable(reason):
    "Skip, or fail where LLMBENCH_BROWSER_REQUIRED=1 (CI: a missing browser must not pass silently)."
    if os.environ.get('LLMBENCH_BROWSER_REQUIRED', '').strip().lower() in ('1', 'true', 'yes'):
        pytest.fail(f'{reason} (LLMBENCH_BROWSER_REQUIRED is set)', pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    try: import playwright.sync_api  # noqa: F401
    except ImportError: _unavailable('the playwright package is missing: pip install -e ".[dev]"')
    chromium = find_chromium()
    if (env := os.environ.get('LLMBENCH_CHROMIUM')) and not chromium:
        _unavailable(f'LLMBENCH_CHROMIUM={env!r} is not a file: point it at a Chromium executable or unset it')
    if not chromium:
        _unavailable(f'no Chromium found ({", ".join(CHROMIUM_NAMES)} on PATH, or $LLMBENCH_CHROMIUM): '
                     'run `make browser` (apt-get install -y chromium on Debian/Ubuntu)')
    lab = Lab(tmp_path_factory.mktemp('browser'), chromium)
    try:
        lab.start()
        yield lab
    finally:
        lab.stop()
        times = {s: round(r['run_s'], 1) for s, r in lab.runs.items() if 'run_s' in r}
        _write_json(lab.tmp/'times.json', times)
        print(f'\nJupyterLab Run All to idle (s): {times}; sum {sum(times.values()):.0f} s; '
              f'screenshots in {lab.shots}')


def _problems(r):
    "What went wrong in a notebook run: a browser error, a timeout, error outputs, code cells that did not run."
    if 'error' in r: return [f"browser: {r['error']}"]
    out = [r['timeout']] if 'timeout' in r else []
    for i, c in enumerate(r['cells']):
        if c['type'] != 'code': continue
        for o in c['outputs']:
            if o['output_type'] == 'error':
                tb = re.sub(r'\x1b\[[0-9;]*m', '', '\n'.join(o['traceback'] or []))
                out.append(f"cell {i}: {o['ename']}: {o['evalue']}\n{tb[-2000:]}")
        if c['execution_count'] is None and c['source'].strip():
            out.append(f"cell {i} did not run: {c['source'][:80]!r}")
    return out


@pytest.mark.slow
@pytest.mark.parametrize('stem', STEPS)
def test_notebook_runs_in_jupyterlab(lab, stem):
    "Run All Cells from the menu: every code cell executed, none shows an error."
    r = lab.run(stem)
    problems = _problems(r)
    assert not problems, f"{stem} in JupyterLab (screenshot {r['screenshot']}):\n" + '\n'.join(problems[:5])
    print(f"{stem}: Run All to idle {r['run_s']:.1f} s")


@pytest.mark.slow
def test_explore_search_box_answers_typing(lab):
    "02_explore's corpus browser: a typed search changes the match count and the document shown."
    r = lab.run('02_explore'); it = r.get('interaction', {})
    assert 'error' not in r and 'error' not in it, \
        f"corpus browser: {r.get('error') or it['error']} (screenshot {r['screenshot']})"
    (n0, total), doc0 = it['initial']
    assert n0 == total > 1 and doc0, f'an empty search should match every document and show one: {it}'
    q, (n, _), doc = it['nonsense']
    assert n == 0 and doc == '', f'searching {q!r} should match nothing and show no document: {it}'
    assert 'query' in it, f'no candidate word matched some but not all documents: {it}'
    q, (n, total), doc, marks = it['query']
    assert 0 < n < total and doc != doc0 and marks and all(m == q for m in marks), it


def _png_bytes(src):
    "The bytes of a `data:image/png;base64,...` URL."
    return base64.b64decode(src.split(',', 1)[1])


def _orange_pixels(png):
    "Pixels of matplotlib's second colour (C1, #ff7f0e: the validation points of `plot_history`) in a PNG."
    import matplotlib.image as mpimg
    a = mpimg.imread(io.BytesIO(png), format='png')[..., :3]
    return int((abs(a - (1.0, 0.498, 0.055)).max(-1) < 0.08).sum())


@pytest.mark.slow
def test_train_loss_plot_is_live(lab):
    "04_train's loss plot is drawn while training runs and redrawn with more points before the cell ends."
    r = lab.run('04_train')
    assert not _problems(r), _problems(r)[:2]
    frames = r['watch']
    shown = list(dict.fromkeys(src for f in frames if f['running'] for src in f['imgs']))
    assert len(shown) >= 2, (f"the loss plot was drawn {len(shown)} time(s) while the training cell ran, expected a "
                             f"first draw and redraws; frames (s, running, images): "
                             f"{[(f['t'], f['running'], len(f['imgs'])) for f in frames]}")
    final = [f['imgs'] for f in frames if f['imgs']][-1]
    assert shown[0] not in final, 'the first live plot is still the one shown at the end'
    first, last = _orange_pixels(_png_bytes(shown[0])), _orange_pixels(_png_bytes(shown[-1]))
    assert last > first, f'the last live plot shows no more validation points than the first ({last} vs {first} px)'


@pytest.mark.slow
def test_generate_prompt_streams(lab):
    "08_generate: a prompt typed into its widget streams generated text into the output."
    r = lab.run('08_generate'); it = r.get('interaction', {})
    assert 'error' not in r and 'error' not in it, \
        f"08_generate: {r.get('error') or it['error']} (screenshot {r['screenshot']})"
    assert it['widget'], ('08_generate shows no prompt widget in JupyterLab (no text box in any cell output): '
                          '`PromptBox(...).show()` must render its live widget there')
    texts = [f['text'] for f in it['frames']]
    grew = sum(len(b) > len(a) for a, b in zip(texts, texts[1:]))
    assert grew >= 3, (f'the output grew {grew} time(s) after the prompt; expected text streaming in piece by piece: '
                       f'{texts[-3:]}')


def test_notebooks_not_saved(lab):
    "JupyterLab saved none of the notebooks it ran (autosave off; the tabs close unsaved): the copies are as copied."
    if not lab.runs: pytest.skip('no notebook ran')
    assert _digests(lab.tmp/'lab'/'nbs') == lab.copies
