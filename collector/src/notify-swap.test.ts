import { describe, expect, it } from 'vitest';
import type { NotificationPipeline } from '../../alerting/src/notify-pipeline.ts';
import type { NotifyConfig } from '../../alerting/src/notify-config.ts';
import { ALERT_ERR, AlertError } from '../../alerting/src/errors.ts';
import { SwappablePipeline } from './notify-swap.ts';

/** A pipeline stand-in whose shutdown finishes when the test says so. */
function fakePipeline(name: string, log: string[]) {
  let finishShutdown: () => void = () => {};
  const shutdownDone = new Promise<void>((resolve) => (finishShutdown = resolve));
  const p = {
    name,
    start: async () => void log.push(`start ${name}`),
    shutdown: () => {
      if (!log.includes(`shutdown ${name}`)) log.push(`shutdown ${name}`);
      return shutdownDone;
    },
    alerts: () => {
      if (log.includes(`shutdown ${name}`)) throw new AlertError(ALERT_ERR.PIPELINE_STOPPED, 'the notification pipeline is shut down', 503);
      return [];
    },
    release: async () => {
      log.push(`shutdown ${name}`);
      await shutdownDone;
      return new Map();
    },
    onTransition: async () => void log.push(`transition ${name}`),
  };
  return { pipeline: p as unknown as NotificationPipeline, finishShutdown };
}

const config = (n: number) => ({ n }) as unknown as NotifyConfig;

/** A SwappablePipeline started on config(1) whose pipelines are fakes (p1, p2, …) logging into `log`. */
function swapOfFakes() {
  const log: string[] = [];
  const made: Array<ReturnType<typeof fakePipeline>> = [];
  const swap = new SwappablePipeline(config(1), (c) => {
    const f = fakePipeline(`p${(c as unknown as { n: number }).n}`, log);
    made.push(f);
    return f.pipeline;
  });
  return { log, made, swap };
}

describe('SwappablePipeline', () => {
  it('a stop during a replacement starts no new pipeline (it would run on after the collector stopped)', async () => {
    const { log, made, swap } = swapOfFakes();
    const replacing = swap.replace(config(2)).catch((err: Error) => err.message);
    const stopping = swap.shutdown();
    made[0].finishShutdown();
    await replacing;
    await stopping;
    expect(log.filter((l) => l.startsWith('start'))).toEqual([]);
  });

  it('a transition offered during a replacement goes to the new pipeline', async () => {
    const { log, made, swap } = swapOfFakes();
    const replacing = swap.replace(config(2));
    const offered = swap.sink.onTransition({} as never);
    made[0].finishShutdown();
    await replacing;
    await offered;
    expect(log).toEqual(['shutdown p1', 'start p2', 'transition p2']);
    expect(swap.view.start).toBeTypeOf('function'); // the view forwards to p2
  });

  it('a request during a replacement is told the pipeline is restarting for a reload, not that it was shut down', async () => {
    const { made, swap } = swapOfFakes();
    const replacing = swap.replace(config(2));
    let thrown: unknown;
    try {
      swap.view.alerts();
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ code: ALERT_ERR.PIPELINE_STOPPED, statusCode: 503, message: expect.stringMatching(/restarting with the reloaded configuration/) });
    made[0].finishShutdown();
    await replacing;
    expect(swap.view.alerts()).toEqual([]);
  });
});
