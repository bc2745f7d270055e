import { runLoad } from './load';
import { RedisProcess, SutProcess } from './processes';
import { buildSut } from './build';
async function main() {
  const mode = (process.argv[2] ?? 'bridge') as 'bridge' | 'raw';
  const useRedis = process.argv[3] === 'redis';
  const rate = process.argv[4] ? Number(process.argv[4]) : undefined;
  if (!process.env.TSX) SutProcess.entry = buildSut();
  const redis = useRedis ? await RedisProcess.start({ aof: true }) : undefined;
  try {
    const r = await runLoad({
      label: `${mode}${useRedis ? '-redis' : ''}`,
      sut: mode,
      redis,
      customers: Number(process.env.N ?? 200),
      messages: Number(process.env.M ?? 5),
      rate,
      replies: 'perMessage',
      textLength: 80,
      validate: false,
      bridgeRequestsPerMinute: 1_000_000,
      warmupCustomers: 50,
      stallTimeoutMs: 20_000,
      logFile: `/tmp/bench-${mode}.log`,
      say: (l) => console.log(l),
      profileFile: process.env.PROFILE,
      env: process.env.BRIDGE_ENV ? JSON.parse(process.env.BRIDGE_ENV) : undefined,
    });
    const { vendorCalls, ...rest } = r;
    console.log(
      JSON.stringify(
        { ...rest, vendorCalls: { ...vendorCalls, timeline: vendorCalls.timeline.length } },
        null,
        1,
      ),
    );
  } finally {
    await redis?.stop();
  }
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
