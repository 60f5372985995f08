"Studies: the n-gram floor, budget matching, computed conclusions (05_architectures), optimizer sweeps (06_optimizers)."
import math
import numpy as np
import pytest
from llmbench.core import LLMBenchError
from llmbench.architectures import NGramLM, arch_conclusions, bits_per_byte, budget_plan, study_table
from llmbench.optimizers import best_rates, log_grid, lr_grids, optimizer_conclusions, speed_table, steps_to_target, sweep_summary


# ---------------------------------------------------------------- n-gram floor
def test_ngram_hand_values():
    # 0 1 0 1 1 2 with D = 0.5: continuation counts N1+(•0)=1, N1+(•1)=2, N1+(•2)=1 (total 4, 3 types)
    lm = NGramLM(order=2, vocab_size=3, discount=0.5).fit([0, 1, 0, 1, 1, 2])
    np.testing.assert_allclose(lm.prob_dist([]), [1/4, 1/2, 1/4])
    np.testing.assert_allclose(lm.prob_dist([1]), [7/24, 10/24, 7/24])   # c(1•)=3 over 3 types
    np.testing.assert_allclose(lm.prob_dist([0]), [1/16, 7/8, 1/16])     # c(0•)=2, one type
    np.testing.assert_allclose(lm.prob_dist([2]), lm.prob_dist([]))       # unseen context backs off
    np.testing.assert_allclose(lm.logprobs([0, 1, 1]), np.log([7/8, 10/24]))
    assert lm.cross_entropy([0, 1, 1]) == pytest.approx(-np.mean(np.log([7/8, 10/24])))


@pytest.mark.parametrize('order', [1, 2, 3, 5])
def test_ngram_distributions_sum_to_one(order):
    rng = np.random.default_rng(order)
    toks = rng.integers(0, 30, 5000) % (rng.integers(1, 30, 5000))  # skewed, with some ids never seen
    lm = NGramLM(order=order, vocab_size=40).fit(toks)
    for ctx in ([], toks[:1], toks[10:14], [39, 39, 39, 39], [0, 1, 2, 3, 4, 5]):
        p = lm.prob_dist(np.asarray(ctx))
        assert p.min() > 0 and p.sum() == pytest.approx(1.0, abs=1e-9)
    # a held-out score is finite, and higher orders fit the training sequence better
    assert math.isfinite(lm.cross_entropy(rng.integers(0, 40, 500)))


def test_ngram_orders_improve_on_structured_text():
    rng = np.random.default_rng(0)
    period = rng.integers(0, 16, 7)
    train, val = np.tile(period, 400), np.tile(period, 50)
    ce = [NGramLM(order=k, vocab_size=16).fit(train).cross_entropy(val) for k in (1, 2, 3)]
    assert ce[0] > ce[1] > ce[2] and ce[2] < 0.2, ce  # a period-7 sequence is nearly deterministic given 2 tokens


def test_ngram_bad_input_names_value():
    with pytest.raises(LLMBenchError, match='order=0'): NGramLM(order=0, vocab_size=3)
    with pytest.raises(LLMBenchError, match=r'\[0, 3\)'): NGramLM(order=2, vocab_size=3).fit([0, 1, 7, 1])
    with pytest.raises(LLMBenchError, match='overflow'): NGramLM(order=6, vocab_size=50257)
    with pytest.raises(LLMBenchError, match='discount=1.5'): NGramLM(order=2, vocab_size=3, discount=1.5)


def test_bits_per_byte():
    assert bits_per_byte(math.log(2), 10, 10) == pytest.approx(1.0)
    assert bits_per_byte(1.0, 1, 4) == pytest.approx(0.25 / math.log(2))
    with pytest.raises(LLMBenchError, match='n_tokens=0'): bits_per_byte(1.0, 0, 5)


# ---------------------------------------------------------------- budgets and conclusions (05)
def test_budget_plan_matches_flops():
    plan = budget_plan(['params', 'flops'], ['gpt', 'cnn'], 20, 0.0, 100, {'gpt': 3000.0, 'cnn': 1000.0})
    steps = {(p['budget'], p['arch']): p['max_steps'] for p in plan}
    assert steps == {('params', 'gpt'): 20, ('params', 'cnn'): 20, ('flops', 'gpt'): 20, ('flops', 'cnn'): 60}
    with pytest.raises(LLMBenchError, match="'time'"): budget_plan(['time'], ['gpt'], 20, 1.0, 100, {})


def _rec(arch, budget, loss, tps):
    return dict(name=f'{arch}/{budget}', arch=arch, budget=budget, params=1000, steps=10, seconds=1.0, tokens=640,
                tokens_per_s=tps, train_flops=1e6, val_loss=loss)


def test_arch_conclusions_are_computed_from_numbers():
    recs = [_rec('gpt', 'params', 1.2, 500), _rec('gru', 'params', 1.4, 800), _rec('cnn', 'params', 2.5, 900),
            _rec('gpt', 'seconds', 1.3, 500), _rec('gru', 'seconds', 1.35, 800), _rec('cnn', 'seconds', 2.4, 900),
            dict(name='ngram-3', arch='ngram-3', budget='floor', val_loss=2.0)]
    c = arch_conclusions(study_table(recs, 100, 100))
    assert c[0].endswith('gpt 1.200 < gru 1.400 < cnn 2.500 (validation loss, nats/token; lower is better).')
    assert 'gpt leads gru by 0.200' in c[1]
    assert '2 of 3 beat the ngram-3 floor (2.000): gpt, gru; not: cnn.' in c[2]
    assert 'Throughput: cnn 900, gru 800, gpt 500 tokens/s.' in c[3]
    assert c[-1] == 'The ranking is the same under every budget.'
    # swap the losses: the text follows the numbers
    recs[0]['val_loss'], recs[1]['val_loss'] = 1.4, 1.2
    c = arch_conclusions(study_table(recs, 100, 100))
    assert 'gru leads gpt by 0.200' in c[1] and c[-1].startswith('The ranking changes with the budget')
    tied = [l for l in arch_conclusions(study_table(recs, 100, 100), margin=0.1) if 'gpt leads gru by 0.050' in l]
    assert len(tied) == 1 and 'call it a tie' in tied[0]  # 1.30 vs 1.35 under 'seconds'
    orders = [dict(arch='ngram-1', val_loss=3.0), dict(arch='ngram-2', val_loss=1.3), dict(arch='ngram-3', val_loss=1.1)]
    c = arch_conclusions(study_table(recs, 100, 100), orders=orders)
    assert '  gru (1.200) sits between ngram-2 (1.300) and ngram-3 (1.100) in validation loss.' in c


# ---------------------------------------------------------------- optimizer sweep (06)
def _run(opt, lr, seed, floor):
    steps = list(range(0, 110, 10))
    curve = [floor + 3.0 * math.exp(-s / 10) for s in steps]
    return dict(optimizer=opt, lr=lr, seed=seed, val_loss=curve[-1], best_eval_loss=min(curve),
                curve=dict(step=steps, seconds=steps, val_loss=curve))


def test_optimizer_sweep_summary_and_conclusions():
    grids = lr_grids(['sgd', 'adam'], {'sgd': [0.01, 1.0], 'adam': [1e-4, 1e-2]}, 3)
    assert grids['sgd'] == pytest.approx([0.01, 0.1, 1.0]) and grids['adam'] == pytest.approx([1e-4, 1e-3, 1e-2])
    floors = {('sgd', 0.01): 3.0, ('sgd', 0.1): 2.0, ('sgd', 1.0): math.nan, ('adam', 1e-4): 2.5, ('adam', 1e-3): 1.5, ('adam', 1e-2): 1.8}
    runs = [_run(o, lr, s, floors[(o, k)] + 0.05 * s) for (o, k) in floors for lr in [k] for s in (0, 1)]
    summ = sweep_summary(runs)
    assert list(summ.seeds) == [2] * 6 and summ.diverged.tolist() == [0, 0, 2, 0, 0, 0]
    best = best_rates(summ, grids)
    assert best.set_index('optimizer').lr.to_dict() == pytest.approx({'sgd': 0.1, 'adam': 1e-3})
    assert list(best.edge) == ['', '']
    target = float(best.best_eval_mean.max())
    spd = speed_table(runs, best, target)
    assert spd.set_index('optimizer').reached.to_dict() == {'sgd': 1, 'adam': 2}  # seed 1 of sgd sits 0.05 above the target
    c = optimizer_conclusions(best, spd)
    assert c[0].startswith("At each optimizer's best rate: adam 1.525 ± 0.035 (lr 0.001) < sgd 2.025 ± 0.035 (lr 0.1)")
    assert 'adam beats sgd by 0.500' in c[1] and 'resolved' in c[1]
    assert 'sgd diverged at 1 of 3 rates' in ' '.join(c)
    assert steps_to_target([0, 5], [2.0, 1.0], 1.5) == 5 and steps_to_target([0, 5], [2.0, 1.6], 1.5) is None
    with pytest.raises(LLMBenchError, match='adamw'): lr_grids(['adamw'], {'adam': [1e-3, 1e-2]}, 2)
    with pytest.raises(LLMBenchError, match=r'\[0.1, 0.01\]'): log_grid(0.1, 0.01, 2)


# ---------------------------------------------------------------- the notebooks, headless
def test_sweep_helpers_tune_any_candidate():
    "05_architectures tunes one rate per architecture with the sweep summaries of 06_optimizers (`key='arch'`)."
    from llmbench.train import best_rates as best_by, sweep_summary as summary_by
    assert summary_by is sweep_summary and best_by is best_rates  # one home: 06 imports them from llmbench.train
    runs = [dict(arch=a, lr=lr, seed=0, val_loss=v) for a, lr, v in
            [('lstm', 0.01, 2.4), ('lstm', 0.001, 2.9), ('lstm', 0.1, float('inf')), ('gpt', 0.001, 2.0), ('gpt', 0.01, 2.1)]]
    summ = sweep_summary(runs, key='arch')
    assert list(summ.arch) == ['lstm'] * 3 + ['gpt'] * 2 and list(summ.lr) == [0.001, 0.01, 0.1, 0.001, 0.01]
    best = best_rates(summ, {'lstm': [0.001, 0.01, 0.1], 'gpt': [0.001, 0.01]}, key='arch').set_index('arch')
    assert best.lr.to_dict() == {'lstm': 0.01, 'gpt': 0.001} and best.edge.to_dict() == {'lstm': '', 'gpt': 'low'}
    assert best.diverged_rates.to_dict() == {'lstm': 1, 'gpt': 0}


def _check_lr_sweep(res, archs):
    "Each architecture's rate is the argmin of its sweep, flagged at a grid edge, and every comparison run used it."
    sw = res['lr_sweep']
    assert sw['grid'] == sorted(sw['grid']) and len(sw['grid']) >= 2
    assert [(r['arch'], r['lr']) for r in sw['runs']] == [(a, lr) for a in archs for lr in sw['grid']]
    assert all(r['steps'] == sw['steps'] for r in sw['runs'])
    for a in archs:
        losses = [math.inf if v is None else v for v in sw['val_loss'][a]]
        assert losses == [math.inf if r['val_loss'] is None else r['val_loss'] for r in sw['runs'] if r['arch'] == a]
        best = sw['grid'][int(np.argmin(losses))]
        assert sw['best_lr'][a] == best and res['design']['lr'][a] == best
        i = sw['grid'].index(best)
        assert sw['edge'][a] == ('low' if i == 0 else 'high' if i == len(sw['grid']) - 1 else '')
        if sw['edge'][a]: assert any(c.startswith(f"  {a}'s best rate") and sw['edge'][a] in c for c in res['conclusions'])
        assert all(r['lr'] == pytest.approx(best) for r in res['runs'] if r['arch'] == a)  # the comparison used it
    assert res['conclusions'][0].startswith('Each architecture trained at its own best learning rate')


def _check_arch_results(res, archs, budgets):
    runs = res['runs']
    assert {(r['arch'], r['budget']) for r in runs} == {(a, b) for a in archs for b in budgets}
    for r in runs:
        assert math.isfinite(r['val_loss']) and r['params'] == res['design']['achieved_params'][r['arch']]
        assert r['curve']['step'] and r['tokens_per_s'] > 0 and isinstance(r['sample'], str) and r['sample']
    rows = {(t['arch'], t['budget']): t for t in res['table']}
    for (a, b), t in rows.items():
        assert t['bits_per_byte'] == pytest.approx(t['val_loss'] * res['val_tokens'] / res['val_bytes'] / math.log(2))
        assert t['perplexity'] == pytest.approx(math.exp(t['val_loss']))
    assert res['floor']['budget'] == 'floor' and math.isfinite(res['floor']['val_loss'])
    assert [o['arch'] for o in res['ngram_orders']] == [f'ngram-{k}' for k in range(1, len(res['ngram_orders']) + 1)]
    # the conclusions name the architecture the table ranks first under every budget
    for b in budgets:
        first = min((t for t in res['table'] if t['budget'] == b), key=lambda t: t['val_loss'])['arch']
        line = next(c for c in res['conclusions'] if c.startswith(res['design']['budgets'][b]))
        assert line.split(': ', 1)[1].startswith(first + ' ')
    return runs


def test_architectures_notebook_smoke(run_nb, tmp_path):
    res = run_nb('05_architectures')
    _check_arch_results(res, ['gpt', 'lstm', 'gru', 'cnn'], ['params', 'flops'])  # equal FLOPs is the default second budget
    _check_lr_sweep(res, ['gpt', 'lstm', 'gru', 'cnn'])
    assert len(res['lr_sweep']['grid']) == 2 and all(e in ('low', 'high') for e in res['lr_sweep']['edge'].values())
    assert all(r['steps'] == 6 for r in res['runs'] if r['budget'] == 'params')
    assert (tmp_path/'run'/'05_architectures'/'val_loss_curves.png').is_file()
    from llmbench.train import find_checkpoints  # the equal-steps models are saved, so 08a_evaluate compares them
    assert set(find_checkpoints(tmp_path/'run', ('best',))) == {f'05_architectures/{a}/best' for a in ('gpt', 'lstm', 'gru', 'cnn')}
    assert res['load_average']['cores'] >= 1 and res['load_average']['loaded'] is False  # no seconds budget: nothing to flag


def test_architectures_seconds_budget_flags_a_loaded_machine(run_nb):
    res = run_nb('05_architectures', archs=['gpt', 'cnn'], budgets=['seconds'], target_params=8000, n_layer=0, lr_grid=[])
    assert res['lr_sweep']['runs'] == [] and all(r['lr'] == pytest.approx(0.003) for r in res['runs'])  # no sweep: lr
    assert res['conclusions'][0].startswith('Every architecture trained at one shared learning rate, 0.003')
    assert all(r['stopped'] == 'max_seconds' for r in res['runs'] if r['budget'] == 'seconds')
    la = res['load_average']
    assert la['loaded'] == (la['max'] > la['cores'])
    assert any('loaded machine' in c for c in res['conclusions']) == la['loaded']


def test_architectures_notebook_flops_budget(run_nb):
    res = run_nb('05_architectures', archs=['gpt', 'cnn'], budgets=['flops'], target_params=8000, max_steps=6,
                 ngram_order=2, n_layer=0, eval_interval=3)
    runs = _check_arch_results(res, ['gpt', 'cnn'], ['flops'])
    fl = [r['train_flops'] for r in runs]
    ref = 6 * res['design']['batch_size'] * res['design']['block_size'] * res['design']['flops_per_token']['gpt']
    assert all(abs(f - ref) <= r['flops_per_token'] * res['design']['batch_size'] * res['design']['block_size'] for f, r in zip(fl, runs))


def test_optimizers_notebook_smoke(run_nb, tmp_path):
    res = run_nb('06_optimizers')
    opts = ['sgd', 'adam']
    assert res['design']['optimizers'] == opts and set(res['lr_grid']) == set(opts) and all(len(g) == 2 for g in res['lr_grid'].values())
    assert {(r['optimizer'], r['lr'], r['seed']) for r in res['runs']} == {(o, lr, s) for o in opts for lr in res['lr_grid'][o] for s in (0, 1)}
    assert all(s['seeds'] == 2 for s in res['summary'])
    assert set(res['best_lr']) == set(opts) and all(res['best_lr'][o] in res['lr_grid'][o] for o in opts)
    for o in opts:  # the best rate is the one with the lowest mean final loss over the two seeds
        means = {lr: np.mean([r['val_loss'] for r in res['runs'] if r['optimizer'] == o and r['lr'] == lr]) for lr in res['lr_grid'][o]}
        assert res['best_lr'][o] == min(means, key=means.get)
        assert res['best_val_loss'][o] == pytest.approx(means[res['best_lr'][o]])
    assert res['conclusions'][0].startswith("At each optimizer's best rate: " + min(res['best_val_loss'], key=res['best_val_loss'].get))
    assert (tmp_path/'run'/'06_optimizers'/'optimizer_sweep.png').is_file()


def test_optimizers_notebook_other_grid(run_nb):
    res = run_nb('06_optimizers', optimizers=['sgd_momentum', 'adamw'], lr_ranges={'sgd_momentum': [0.01, 1.0], 'adamw': [0.001, 0.1]},
                 n_lr=3, seeds=[3], max_steps=3, eval_interval=1, target_loss=4.4)
    assert res['lr_grid']['sgd_momentum'] == pytest.approx([0.01, 0.1, 1.0]) and res['lr_grid']['adamw'] == pytest.approx([0.001, 0.01, 0.1])
    assert len(res['runs']) == 6 and {r['seed'] for r in res['runs']} == {3}
    assert res['target_loss'] == 4.4
    for s in res['steps_to_target']:  # recomputed from the stored curves
        runs = [r for r in res['runs'] if r['optimizer'] == s['optimizer'] and r['lr'] == s['lr']]
        assert s['steps_per_seed'] == [steps_to_target(r['curve']['step'], r['curve']['val_loss'], 4.4) for r in runs]
