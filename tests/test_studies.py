"Studies: the n-gram floor, budget matching, computed conclusions (05_architectures), optimizer sweeps (06_optimizers)."
import math
import numpy as np
import pytest
from llmbench.core import LLMBenchError
from llmbench.compare import NGramLM, arch_conclusions, bits_per_byte, budget_plan, study_table
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
