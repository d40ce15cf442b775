import {
  createOverloadDetector, createUnderloadDetector, createVmPlacer, createVmSelector, listAlgorithms,
  UnknownAlgorithmError,
} from '../../src/engine/registry';
import { InvalidParameterError } from '../../src/engine/params';

const CONTEXT = { timeStepS: 300, migrationTimeS: 20 };

describe('algorithm registry', () => {
  test("Neat's default neat.conf factories and parameters all resolve", () => {
    const underload = createUnderloadDetector({
      name: 'neat.locals.underload.trivial.last_n_average_threshold_factory',
      params: { threshold: 0.5, n: 2 },
    }, CONTEXT);
    expect(underload.name).toBe('last_n_average_threshold');
    const overload = createOverloadDetector({
      name: 'neat.locals.overload.mhod.core.mhod_factory',
      params: { state_config: [0.8], otf: 0.1, history_size: 500, window_sizes: [30, 40, 50, 60, 70, 80, 90, 100],
        bruteforce_step: 0.5, learning_steps: 10 },
    }, CONTEXT);
    expect(overload.name).toBe('mhod');
    const selector = createVmSelector({
      name: 'neat.locals.vm_selection.algorithms.minimum_migration_time_max_cpu_factory',
      params: { last_n: 2 },
    }, CONTEXT);
    expect(selector.name).toBe('minimum_migration_time_max_cpu');
    const placer = createVmPlacer({
      name: 'neat.globals.vm_placement.bin_packing.best_fit_decreasing_factory',
      params: { cpu_threshold: 0.8, ram_threshold: 0.95, last_n_vm_cpu: 2 },
    }, CONTEXT);
    expect(placer.name).toBe('best_fit_decreasing');
  });

  test("neat.conf's commented-out alternatives resolve too", () => {
    const alternatives: [string, unknown][] = [
      ['neat.locals.overload.trivial.threshold_factory', { threshold: 0.9 }],
      ['neat.locals.overload.trivial.last_n_average_threshold_factory', { threshold: 0.95, n: 2 }],
      ['neat.locals.overload.statistics.loess_factory', { threshold: 0.8, param: 1.0, length: 30 }],
      ['neat.locals.overload.otf.otf_factory', { otf: 0.2, threshold: 0.8, limit: 10 }],
    ];
    for (const [name, params] of alternatives) {
      expect(() => createOverloadDetector({ name, params }, CONTEXT)).not.toThrow();
    }
    expect(createUnderloadDetector({ name: 'neat.locals.underload.trivial.threshold_factory', params: { threshold: 0.3 } }, CONTEXT).name)
      .toBe('threshold');
    expect(createVmSelector({ name: 'neat.locals.vm_selection.algorithms.minimum_migration_time_factory', params: {} }, CONTEXT).name)
      .toBe('minimum_migration_time');
  });

  test('every listed algorithm can be created by its short name with its defaults or minimal parameters', () => {
    const minimal: Record<string, unknown> = {
      'underload/threshold': { threshold: 0.3 },
      'overload/threshold': { threshold: 0.9 },
      'overload/last_n_average_threshold': { threshold: 0.9, n: 2 },
      'overload/loess': { threshold: 1, param: 1.2, length: 10 },
      'overload/loess_robust': { threshold: 1, param: 1.2, length: 10 },
      'overload/mad_threshold': { threshold: 2.5, limit: 10 },
      'overload/iqr_threshold': { threshold: 1.5, limit: 10 },
      'overload/otf': { otf: 0.2, threshold: 0.8, limit: 10 },
      'overload/cloudsim_thr': { threshold: 0.8 },
      'overload/cloudsim_iqr': { safety: 1.5 },
      'overload/cloudsim_mad': { safety: 2.5 },
      'overload/cloudsim_lr': { safety: 1.2 },
      'overload/cloudsim_lrr': { safety: 1.2 },
    };
    const create = { underload: createUnderloadDetector, overload: createOverloadDetector, selection: createVmSelector, placement: createVmPlacer };
    const listed = listAlgorithms();
    expect(listed.length).toBe(23);
    for (const a of listed) {
      const instance = create[a.kind]({ name: a.name, params: minimal[`${a.kind}/${a.name}`] ?? {} }, CONTEXT);
      expect(instance.name).toBe(a.name);
    }
  });

  test('an unknown name is rejected with the list of valid names', () => {
    expect(() => createOverloadDetector({ name: 'magic', params: {} }, CONTEXT)).toThrow(UnknownAlgorithmError);
    expect(() => createOverloadDetector({ name: 'magic', params: {} }, CONTEXT))
      .toThrow(/unknown overload detection algorithm "magic"; valid: never_overloaded, threshold, .*mhod/);
  });

  test("a factory of another kind is unknown here (an underload factory is not an overload detector)", () => {
    expect(() => createOverloadDetector({ name: 'neat.locals.underload.trivial.threshold_factory', params: { threshold: 1 } }, CONTEXT))
      .toThrow(UnknownAlgorithmError);
  });

  test('invalid parameters name the parameter and what is valid', () => {
    const attempt = (params: unknown) => () => createOverloadDetector({ name: 'otf', params }, CONTEXT);
    expect(attempt({ otf: 'x', threshold: 0.8, limit: 10 })).toThrow(/parameter "otf" must be a number >= 0 and <= 1, got "x"/);
    expect(attempt({ otf: 0.2, threshold: 0.8 })).toThrow(/missing parameter "limit"/);
    expect(attempt({ otf: 0.2, threshold: 0.8, limit: 10, extra: 1 })).toThrow(/unknown parameter "extra"; valid parameters: otf .*, threshold .*, limit/);
    expect(attempt({ otf: 0.2, threshold: 0.8, limit: 1.5 })).toThrow(/"limit" must be an integer >= 0/);
    expect(attempt([1, 2])).toThrow(/parameters must be a JSON object/);
    expect(attempt({ otf: 0.2, threshold: 0.8, limit: 10, extra: 1 })).toThrow(InvalidParameterError);
    expect(() => createOverloadDetector({ name: 'mhod', params: { window_sizes: [30, 20] } }, CONTEXT))
      .toThrow(/"window_sizes" must be a list of .* strictly increasing, got \[30,20\]/);
  });

  test('missing parameters take Neat defaults where neat.conf has them', () => {
    const placer = createVmPlacer({ name: 'best_fit_decreasing', params: undefined }, CONTEXT);
    expect(placer.name).toBe('best_fit_decreasing');
  });
});
