import type { SinkModule } from '../sink';
import { botanalyticsSink } from './botanalytics';
import { chatbaseSink } from './chatbase';
import { dashbotSink } from './dashbot';
import { segmentSink } from './segment';
import { webhookSink } from './webhook';

/** Every analytics tool the hub can feed. Adding one: a file in this folder, one line here, and its test. */
export const sinkModules: readonly SinkModule[] = [
  webhookSink,
  dashbotSink,
  chatbaseSink,
  botanalyticsSink,
  segmentSink,
];
