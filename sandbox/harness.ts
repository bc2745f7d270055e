/**
 * Starts the whole loop locally: the LIME server (BLiP), the Zendesk emulator and the real bridge between them.
 * Used by `npm run demo` and by the e2e tests.
 */
import type { VendorName } from '../src/adapters/registry';
import { startBridge, type Bridge } from '../src/app';
import { loadConfig, type Config } from '../src/config';
import type { Logger } from '../src/core/logger';
import { randomUUID } from 'node:crypto';
import { emulatorFactories, type EmulatorFor, testKit } from './emulators';
import type { VendorEmulator } from './vendor-emulator';
import { LimeServer, type SandboxCustomer } from './lime-server';
import { MediaServer } from './media-server';

export const SANDBOX_BOT = 'acmehelpdesk';
export const SANDBOX_ACCESS_KEY = Buffer.from('sandbox-access-key').toString('base64');
/** The router the sandbox's customers come through, and its keys (LIME, and the HTTP API's `Key`). */
export const SANDBOX_ROUTER = 'acmerouter';
export const SANDBOX_ROUTER_ACCESS_KEY = Buffer.from('sandbox-router-key').toString('base64');
export const SANDBOX_ROUTER_HTTP_KEY = LimeServer.httpKey(SANDBOX_ROUTER, SANDBOX_ROUTER_ACCESS_KEY);

export interface Sandbox<V extends VendorName = 'zendesk'> {
  lime: LimeServer;
  /** Serves the files customers send (on 127.0.0.1, which the sandbox's BRIDGE_MEDIA_ALLOWED_HOSTS allows). */
  media: MediaServer;
  /** The vendor emulator: the helpdesk and its agent (the first, default one when several are enabled). */
  helpdesk: EmulatorFor<V>;
  /** Every enabled helpdesk's emulator, by vendor name (`vendors`). */
  helpdesks: Partial<Record<VendorName, VendorEmulator>>;
  bridge: Bridge;
  config: Config;
  /** The bot's identity on the LIME server. */
  bot: string;
  /** A customer behind the router, as the bridge sees them. */
  customer(originator: string): SandboxCustomer;
  /** The customer writes a text message. */
  say(customer: SandboxCustomer, text: string, id?: string): string;
  /**
   * The router's bot hands the customer over with a JSON Redirect context (`{"team":"billing"}`…): BLiP delivers
   * it as a `context:` message from the customer's tunnel.
   */
  handOver(customer: SandboxCustomer, context: Record<string, unknown>): string;
  /** The customer sends a media link (`application/vnd.lime.media-link+json`, as BLiP forwards a photo). */
  sendMedia(customer: SandboxCustomer, media: SandboxMediaLink, id?: string): string;
  /** Starts another bridge instance on the same LIME server, emulator and state (multi-instance tests). */
  startAnotherBridge(): Promise<Bridge>;
  stop(): Promise<void>;
}

/** The content of a LIME media link, as in test/fixtures/lime/02-inbound-media-image.json. */
export interface SandboxMediaLink {
  type: string;
  uri: string;
  size?: number;
  title?: string;
  text?: string;
}

export interface SandboxOptions<V extends VendorName> {
  /** Which helpdesk the bridge serves (default zendesk). */
  vendor?: V;
  /**
   * Several helpdesks at once (`BRIDGE_VENDORS`; the first is the default route and must be `vendor` when both are
   * given). Routing rules come through `env.BRIDGE_ROUTES`.
   */
  vendors?: VendorName[];
  redisUrl?: string;
  logger: Logger;
  /** Extra environment for the bridge (BRIDGE_CLOSING_MESSAGE, BLIP_MAIN_SERVICE...); undefined unsets a key. */
  env?: Record<string, string | undefined>;
}

export async function startSandbox<V extends VendorName = 'zendesk'>(
  options: SandboxOptions<V>,
): Promise<Sandbox<V>> {
  const vendors: VendorName[] = options.vendors ?? [options.vendor ?? 'zendesk'];
  const vendor = vendors[0] as V;
  const media = await MediaServer.start();
  // Strict like a real BLiP: a frame the bridge sends that a real server would refuse ends the session, is logged,
  // and fails the test at stop().
  const lime = await LimeServer.start({
    accounts: { [SANDBOX_BOT]: SANDBOX_ACCESS_KEY, [SANDBOX_ROUTER]: SANDBOX_ROUTER_ACCESS_KEY },
    router: `${SANDBOX_ROUTER}@msging.net`,
    logger: options.logger,
  });
  const emulators: VendorEmulator[] = [];
  for (const name of vendors) emulators.push(await emulatorFactories[name]());
  const helpdesk = emulators[0] as EmulatorFor<V>;
  const helpdesks = Object.fromEntries(vendors.map((name, i) => [name, emulators[i]!]));
  const env = {
    BLIP_IDENTIFIER: SANDBOX_BOT,
    BLIP_ACCESS_KEY: SANDBOX_ACCESS_KEY,
    BLIP_SCHEME: 'ws',
    BLIP_HOST: '127.0.0.1',
    BLIP_PORT: String(lime.port),
    // BLiP's HTTP commands, for a test that sets BLIP_HISTORY_KEY (the router's thread).
    BLIP_HISTORY_URL: lime.commandsUrl,
    ...Object.assign({}, ...emulators.map((e) => e.bridgeEnv())),
    BRIDGE_VENDOR: vendor,
    ...(vendors.length > 1 ? { BRIDGE_VENDORS: vendors.join(',') } : {}),
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    LOG_LEVEL: 'warn',
    BRIDGE_MEDIA_ALLOWED_HOSTS: '127.0.0.1',
    // Tests see only what they ask for: no waiting/assignment texts unless a test turns them on, and reports
    // in memory instead of a shared file.
    BRIDGE_WAITING_MESSAGE: '',
    BRIDGE_ASSIGNED_MESSAGE: '',
    BRIDGE_TRANSFERRED_MESSAGE: '',
    // No transcript unless a test asks for one (the LIME server keeps every customer's thread).
    BRIDGE_TRANSCRIPT: 'off',
    REPORTS_SQLITE_PATH: ':memory:',
    // A loaded CI machine can take seconds to answer the session's first commands; the sandbox is not where
    // BLiP's latency is measured.
    BLIP_COMMAND_TIMEOUT_MS: '15000',
    // Each vendor's harness settings (its test kit): the vendor limits are tested on their own (unit tests,
    // `npm run bench`); functional tests run unthrottled.
    ...Object.assign({}, ...vendors.map((name) => testKit(name).harnessEnv)),
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
    ...options.env,
  };
  const config = loadConfig(env);
  const bridges: Bridge[] = [];
  let bridge: Bridge;
  try {
    bridge = await startBridge(config, options.logger);
    bridges.push(bridge);
  } catch (err) {
    await Promise.allSettled([lime.stop(), media.stop(), ...emulators.map((e) => e.stop())]);
    throw err;
  }
  for (const [i, name] of vendors.entries()) emulators[i]!.setWebhookTarget(`${bridge.url}/webhooks/${name}`);
  const bot = `${SANDBOX_BOT}@${config.blip.domain}`;

  return {
    lime,
    media,
    helpdesk,
    helpdesks,
    bridge,
    config,
    bot,
    customer: (originator) => lime.customer(originator, bot),
    say: (customer, text, id) =>
      String(lime.sendFromCustomer(bot, customer, 'text/plain', text, id ? { id } : {}).id),
    handOver: (customer, context) =>
      String(
        lime.sendFromCustomer(bot, customer, 'application/json', context, { id: `context:${randomUUID()}` })
          .id,
      ),
    sendMedia: (customer, content, id) =>
      String(
        lime.sendFromCustomer(
          bot,
          customer,
          'application/vnd.lime.media-link+json',
          content,
          id ? { id } : {},
        ).id,
      ),
    async startAnotherBridge() {
      const another = await startBridge(config, options.logger);
      bridges.push(another);
      return another;
    },
    async stop() {
      await Promise.allSettled(bridges.map((b) => b.stop()));
      await Promise.allSettled([lime.stop(), media.stop(), ...emulators.map((e) => e.stop())]);
      if (lime.notificationProblems.length > 0) {
        const problems = [...new Set(lime.notificationProblems.map((p) => `${p.event}: ${p.problem}`))];
        throw new Error(`the bridge sent notifications a real BLiP could not route: ${problems.join('; ')}`);
      }
      if (lime.refusals.length > 0) {
        const reasons = [...new Set(lime.refusals.map((r) => r.reason))].join('; ');
        throw new Error(
          `the bridge sent ${lime.refusals.length} frame(s) a real LIME server refuses: ${reasons}`,
        );
      }
    },
  };
}
