import { accessKeyProblem, ConfigError, loadConfig } from '../../src/config';

/** base64 of `blip-access-key-value`: BLiP's portal shows the key encoded. */
const ACCESS_KEY = 'YmxpcC1hY2Nlc3Mta2V5LXZhbHVl';

const minimalEnv = {
  BLIP_IDENTIFIER: 'acmehelpdesk',
  BLIP_ACCESS_KEY: ACCESS_KEY,
  ZENDESK_SUBDOMAIN: 'acme-suporte',
  ZENDESK_EMAIL: 'bridge@acme.com.br',
  ZENDESK_API_TOKEN: 'zendesk-api-token-value',
  ZENDESK_WEBHOOK_SECRET: 'zendesk-webhook-secret-value',
};

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('loadConfig accepted the environment');
}

function problemKeys(err: ConfigError): string[] {
  return err.problems.map((p) => p.split(':')[0]!);
}

describe('loadConfig', () => {
  it('listens on HTTP_PORT, else on PORT (set by container platforms), else on 3000', () => {
    expect(loadConfig(minimalEnv).http.port).toBe(3000);
    expect(loadConfig({ ...minimalEnv, PORT: '8080' }).http.port).toBe(8080);
    expect(loadConfig({ ...minimalEnv, PORT: '8080', HTTP_PORT: '9090' }).http.port).toBe(9090);
    expect(problemKeys(configError({ ...minimalEnv, PORT: 'http' }))).toEqual(['PORT']);
  });

  it('reads where /metrics is served: open on the main port by default, METRICS_PORT, METRICS_TOKEN (24+)', () => {
    expect(loadConfig(minimalEnv).metrics).toEqual({ port: undefined, token: undefined });
    const token = 'metrics-token-0123456789abcdef';
    expect(loadConfig({ ...minimalEnv, METRICS_PORT: '9464', METRICS_TOKEN: token }).metrics).toEqual({
      port: 9464,
      token,
    });
    expect(problemKeys(configError({ ...minimalEnv, METRICS_TOKEN: 'short' }))).toEqual(['METRICS_TOKEN']);
  });

  it('accepts a minimal environment and fills the documented defaults', () => {
    const config = loadConfig(minimalEnv);
    expect(config.blip).toEqual({
      identifier: 'acmehelpdesk',
      accessKey: ACCESS_KEY,
      domain: 'msging.net',
      host: 'ws.msging.net',
      port: 443,
      scheme: 'wss',
      instance: 'default',
      commandTimeoutMs: 6_000,
      sendConfirmTimeoutMs: 1_000,
      handshakeTimeoutMs: 5_000,
      startupRetryMs: 30_000,
      maxFrameBytes: 8_388_608,
      acceptDirect: false,
      routers: [],
      mainService: undefined,
    });
    expect(config.bridge).toEqual({
      locale: 'pt-BR',
      closingText: 'Seu atendimento foi encerrado. Obrigado pelo contato!',
      ticketTags: ['blip_bridge'],
      dedupeTtlMs: 168 * 3_600_000,
      webhookMaxSkewSeconds: 300,
      pollIntervalMs: 15_000,
      maxMessageLength: 4096,
      agentSignature: undefined,
      fileNotDeliveredText:
        '[O atendente enviou um arquivo ({file}) que não pôde ser entregue. Ele já foi avisado.]',
    });
    expect(config.media).toEqual({
      maxBytes: 26_214_400,
      timeoutMs: 20_000,
      allowedHosts: [],
      publicUrl: undefined,
      linkTtlMs: 24 * 3_600_000,
      urlSecret: ACCESS_KEY,
    });
    expect(config.http).toEqual({
      host: '0.0.0.0',
      port: 3000,
      bodyLimitBytes: 1_048_576,
      drainDelayMs: 0,
      trustProxy: false,
    });
    expect(config.redisUrl).toBeUndefined();
    expect(config.log).toEqual({ level: 'info', format: 'json' });
    expect(config.vendor.name).toBe('zendesk');
    expect(config.vendor.settings).toMatchObject({
      ZENDESK_SUBDOMAIN: 'acme-suporte',
      ZENDESK_EMAIL: 'bridge@acme.com.br',
      ZENDESK_API_TOKEN: 'zendesk-api-token-value',
      ZENDESK_WEBHOOK_SECRET: 'zendesk-webhook-secret-value',
      ZENDESK_REQUESTS_PER_MINUTE: 200,
      ZENDESK_TIMEOUT_MS: 10_000,
    });
  });

  it('keeps only vendor keys in the vendor settings', () => {
    const config = loadConfig({ ...minimalEnv, PATH: '/usr/bin', HOME: '/root' });
    expect(Object.keys(config.vendor.settings).every((k) => k.startsWith('ZENDESK_'))).toBe(true);
  });

  it('coerces numbers, splits tags and reads explicit values', () => {
    const config = loadConfig({
      ...minimalEnv,
      BLIP_PORT: '8081',
      HTTP_PORT: '8080',
      BRIDGE_TICKET_TAGS: ' blip_bridge, whatsapp ,,vip',
      BRIDGE_DEDUPE_TTL_HOURS: '1',
      BLIP_MAIN_SERVICE: 'principal',
      REDIS_URL: 'rediss://:pw@redis.internal:6380/0',
      LOG_LEVEL: 'debug',
    });
    expect(config.blip.port).toBe(8081);
    expect(config.http.port).toBe(8080);
    expect(config.bridge.ticketTags).toEqual(['blip_bridge', 'whatsapp', 'vip']);
    expect(config.bridge.dedupeTtlMs).toBe(3_600_000);
    expect(config.blip.mainService).toBe('principal');
    expect(config.redisUrl).toBe('rediss://:pw@redis.internal:6380/0');
    expect(config.log.level).toBe('debug');
  });

  it('reads the media settings: cap, timeout and the hosts allowed on private addresses', () => {
    const config = loadConfig({
      ...minimalEnv,
      BRIDGE_MEDIA_MAX_BYTES: '1048576',
      BRIDGE_MEDIA_TIMEOUT_MS: '5000',
      BRIDGE_MEDIA_ALLOWED_HOSTS: ' 127.0.0.1, Media.Internal ,,',
      BRIDGE_PUBLIC_URL: 'https://bridge.acme.com.br/blip/',
      BRIDGE_MEDIA_LINK_TTL_HOURS: '0.5',
      BRIDGE_MEDIA_URL_SECRET: 'a-long-media-link-secret',
    });
    expect(config.media).toEqual({
      maxBytes: 1_048_576,
      timeoutMs: 5_000,
      allowedHosts: ['127.0.0.1', 'media.internal'],
      publicUrl: 'https://bridge.acme.com.br/blip',
      linkTtlMs: 1_800_000,
      urlSecret: 'a-long-media-link-secret',
    });
    expect(
      problemKeys(
        configError({
          ...minimalEnv,
          BRIDGE_MEDIA_MAX_BYTES: '-1',
          BRIDGE_PUBLIC_URL: 'bridge.acme.com.br',
          BRIDGE_MEDIA_URL_SECRET: 'short',
        }),
      ),
    ).toEqual(['BRIDGE_MEDIA_MAX_BYTES', 'BRIDGE_MEDIA_URL_SECRET', 'BRIDGE_PUBLIC_URL']);
  });

  it('treats an empty value as unset for ordinary keys', () => {
    const config = loadConfig({ ...minimalEnv, BLIP_PORT: '', LOG_LEVEL: '  ', REDIS_URL: '' });
    expect(config.blip.port).toBe(443);
    expect(config.log.level).toBe('info');
    expect(config.redisUrl).toBeUndefined();
  });

  it('lists every missing required key at once for an empty environment', () => {
    const err = configError({});
    expect(err).toBeInstanceOf(ConfigError);
    expect(problemKeys(err).sort()).toEqual(
      [
        'BLIP_ACCESS_KEY',
        'BLIP_IDENTIFIER',
        'ZENDESK_API_TOKEN',
        'ZENDESK_EMAIL',
        'ZENDESK_SUBDOMAIN',
        'ZENDESK_WEBHOOK_SECRET',
      ].sort(),
    );
    for (const problem of err.problems) expect(problem).toMatch(/is required/);
    for (const key of problemKeys(err)) expect(err.message).toContain(key);
  });

  it('names the cross-field vendor keys even when another vendor key is missing', () => {
    const err = configError({
      ...minimalEnv,
      ZENDESK_WEBHOOK_SECRET: undefined,
      ZENDESK_SUBDOMAIN: undefined,
    });
    expect(problemKeys(err).sort()).toEqual(['ZENDESK_SUBDOMAIN', 'ZENDESK_WEBHOOK_SECRET']);
  });

  it('names an invalid vendor key next to a missing one', () => {
    const err = configError({ ...minimalEnv, ZENDESK_SUBDOMAIN: undefined, ZENDESK_EMAIL: 'not-an-email' });
    expect(problemKeys(err).sort()).toEqual(['ZENDESK_EMAIL', 'ZENDESK_SUBDOMAIN']);
  });

  it.each([
    ['BLIP_ACCESS_KEY', 'not base64!'],
    ['BLIP_ACCESS_KEY', 'Key YmxpcA=='],
    ['BLIP_HANDSHAKE_TIMEOUT_MS', '0'],
    ['BLIP_STARTUP_RETRY_SECONDS', '-1'],
    ['BLIP_MAX_FRAME_BYTES', '1000'],
    ['BLIP_ACCEPT_DIRECT', 'maybe'],
    ['BLIP_ROUTERS', 'router1'],
    ['HTTP_DRAIN_DELAY_MS', 'soon'],
    ['BLIP_PORT', 'abc'],
    ['REDIS_URL', 'http://x'],
    ['LOG_LEVEL', 'loud'],
    ['BLIP_SCHEME', 'https'],
    ['BRIDGE_LOCALE', 'fr'],
    ['ZENDESK_EMAIL', 'not-an-email'],
    ['ZENDESK_SUBDOMAIN', 'acme.zendesk.com'],
    ['HTTP_PORT', '70000'],
  ])('names %s when it is invalid (%s)', (key, value) => {
    const err = configError({ ...minimalEnv, [key]: value });
    expect(problemKeys(err)).toEqual([key]);
  });

  it('reports several invalid values together', () => {
    const err = configError({ ...minimalEnv, BLIP_PORT: 'abc', REDIS_URL: 'http://x', LOG_LEVEL: 'loud' });
    expect(problemKeys(err).sort()).toEqual(['BLIP_PORT', 'LOG_LEVEL', 'REDIS_URL']);
  });

  it('never echoes a given value, secret or not, in the error', () => {
    const marker = 'MARKER-7f3c9e2a-do-not-log';
    const err = configError({
      ...minimalEnv,
      ZENDESK_WEBHOOK_SECRET: `${marker}-webhook`,
      BLIP_ACCESS_KEY: `${marker}-access`,
      ZENDESK_API_TOKEN: `${marker}-token`,
      REDIS_URL: `http://user:${marker}-redis@redis.internal`,
      BLIP_IDENTIFIER: `bad identifier ${marker}`,
      LOG_LEVEL: 'loud',
    });
    expect(problemKeys(err).sort()).toEqual(['BLIP_ACCESS_KEY', 'BLIP_IDENTIFIER', 'LOG_LEVEL', 'REDIS_URL']);
    expect(err.message).not.toContain(marker);
    expect(err.problems.join('\n')).not.toContain(marker);
  });

  it('gives the pt-BR closing text when BRIDGE_CLOSING_MESSAGE is unset, and the English one for BRIDGE_LOCALE=en', () => {
    expect(loadConfig(minimalEnv).bridge.closingText).toBe(
      'Seu atendimento foi encerrado. Obrigado pelo contato!',
    );
    expect(loadConfig({ ...minimalEnv, BRIDGE_LOCALE: 'en' }).bridge.closingText).toMatch(
      /^Your conversation/,
    );
  });

  it('disables the closing text when BRIDGE_CLOSING_MESSAGE is empty, in every locale', () => {
    const config = loadConfig({ ...minimalEnv, BRIDGE_CLOSING_MESSAGE: '' });
    expect(config.bridge.closingText).toBeUndefined();
    for (const texts of Object.values(config.texts.byLocale)) expect(texts.closing).toBeUndefined();
  });

  it('gives every text in Spanish for BRIDGE_LOCALE=es, and per-customer locales only when asked', () => {
    const config = loadConfig({ ...minimalEnv, BRIDGE_LOCALE: 'es' });
    expect(config.texts).toMatchObject({ defaultLocale: 'es', perCustomer: false });
    expect(config.bridge.closingText).toBe('Tu atención ha finalizado. ¡Gracias por contactarnos!');
    expect(config.bridge.fileNotDeliveredText).toMatch(/^\[El agente envió un archivo/);
    expect(config.lifecycle).toMatchObject({
      waitingText: expect.stringMatching(/^Estás en la fila/),
      assignedText: '{agent} se unió a la conversación.',
      transferredText: 'Te estamos transfiriendo al equipo {team}.',
      unnamedAgent: 'Un agente',
    });
    expect(loadConfig({ ...minimalEnv, BRIDGE_CUSTOMER_LOCALE: 'true' }).texts.perCustomer).toBe(true);
  });

  it('applies a BRIDGE_*_MESSAGE text to the deployment locale and BRIDGE_TEXTS to its own locale', () => {
    const config = loadConfig({
      ...minimalEnv,
      BRIDGE_WAITING_MESSAGE: 'Aguarde, {name}',
      BRIDGE_TEXTS: JSON.stringify({ es: { waiting: 'Espere, por favor.', unnamedAgent: 'Alguien' } }),
    });
    expect(config.lifecycle.waitingText).toBe('Aguarde, {name}');
    expect(config.texts.byLocale['pt-BR']?.waiting).toBe('Aguarde, {name}');
    expect(config.texts.byLocale.es).toMatchObject({
      waiting: 'Espere, por favor.',
      unnamedAgent: 'Alguien',
    });
    expect(config.texts.byLocale.en?.waiting).toMatch(/^You are in the queue/);
  });

  it.each([
    ['not json', '{es:'],
    ['an unknown locale', '{"fr":{"waiting":"x"}}'],
    ['an unknown text', '{"es":{"wating":"x"}}'],
  ])('refuses BRIDGE_TEXTS with %s', (_what, value) => {
    expect(problemKeys(configError({ ...minimalEnv, BRIDGE_TEXTS: value }))).toEqual(['BRIDGE_TEXTS']);
  });

  it('uses a custom closing text as given', () => {
    expect(loadConfig({ ...minimalEnv, BRIDGE_CLOSING_MESSAGE: 'Tchau!' }).bridge.closingText).toBe('Tchau!');
  });

  it('refuses an access key that is not base64, naming the problem (BLiP would drop the session silently)', () => {
    const err = configError({ ...minimalEnv, BLIP_ACCESS_KEY: 'my-key:with_symbols' });
    expect(err.problems).toEqual([
      'BLIP_ACCESS_KEY: must be base64 (A-Z, a-z, 0-9, + and /, = padding), exactly as the portal shows it',
    ]);
    expect(configError({ ...minimalEnv, BLIP_ACCESS_KEY: 'Key YmxpcA==' }).problems).toEqual([
      'BLIP_ACCESS_KEY: must be the access key alone, without the "Key " prefix of an Authorization header',
    ]);
  });

  it.each([
    ['padded', 'YmxpcA==', undefined],
    ['unpadded', 'YmxpcA', undefined],
    ['with + and /', 'ab+/cd==', undefined],
    ['url-safe characters', 'ab-_cd==', 'base64'],
    ['a space inside', 'Ymxp cA==', 'base64'],
    ['padding in the middle', 'Ym=xpcA=', 'base64'],
    ['three = signs', 'Ymxp===', 'base64'],
    ['unpadded, three characters over', 'YmxpcAb', undefined],
    ['one character too many', 'YmxpcAbcd', 'base64'],
    ['padded to a wrong length', 'YmxpcA=', 'base64'],
  ])('judges an access key %s', (_what, key, problem) => {
    const found = accessKeyProblem(key);
    if (problem) expect(found).toMatch(problem);
    else expect(found).toBeUndefined();
  });

  it('reads the BLiP edge settings: timeouts, start-up retry, frame limit, direct senders and routers', () => {
    const config = loadConfig({
      ...minimalEnv,
      BLIP_HANDSHAKE_TIMEOUT_MS: '2500',
      BLIP_STARTUP_RETRY_SECONDS: '0',
      BLIP_SEND_CONFIRM_TIMEOUT_MS: '0',
      BLIP_MAX_FRAME_BYTES: '1048576',
      BLIP_ACCEPT_DIRECT: 'true',
      BLIP_ROUTERS: ' AcmeRouter@msging.net , other@msging.net',
      HTTP_DRAIN_DELAY_MS: '5000',
    });
    expect(config.blip).toMatchObject({
      handshakeTimeoutMs: 2_500,
      startupRetryMs: 0,
      sendConfirmTimeoutMs: 0,
      maxFrameBytes: 1_048_576,
      acceptDirect: true,
      routers: ['acmerouter@msging.net', 'other@msging.net'],
    });
    expect(config.http.drainDelayMs).toBe(5_000);
  });

  it('treats an empty BLIP_MAIN_SERVICE as the router default', () => {
    expect(loadConfig({ ...minimalEnv, BLIP_MAIN_SERVICE: '' }).blip.mainService).toBeUndefined();
  });

  it('accepts ZENDESK_OAUTH_TOKEN instead of email + API token', () => {
    const { ZENDESK_EMAIL: _email, ZENDESK_API_TOKEN: _token, ...rest } = minimalEnv;
    const config = loadConfig({ ...rest, ZENDESK_OAUTH_TOKEN: 'oauth-token-value' });
    expect(config.vendor.settings).toMatchObject({ ZENDESK_OAUTH_TOKEN: 'oauth-token-value' });
    expect(config.vendor.settings).not.toHaveProperty('ZENDESK_EMAIL');
  });

  it('requires email + API token when there is no OAuth token', () => {
    const { ZENDESK_API_TOKEN: _token, ...rest } = minimalEnv;
    expect(problemKeys(configError(rest))).toEqual(['ZENDESK_API_TOKEN']);
  });

  it('accepts ZENDESK_BASE_URL instead of ZENDESK_SUBDOMAIN', () => {
    const { ZENDESK_SUBDOMAIN: _sub, ...rest } = minimalEnv;
    const config = loadConfig({ ...rest, ZENDESK_BASE_URL: 'http://localhost:4010' });
    expect(config.vendor.settings).toMatchObject({ ZENDESK_BASE_URL: 'http://localhost:4010' });
  });

  it('picks a pretty log format on a TTY outside production, json otherwise', () => {
    expect(loadConfig(minimalEnv, true).log.format).toBe('pretty');
    expect(loadConfig({ ...minimalEnv, NODE_ENV: 'production' }, true).log.format).toBe('json');
    expect(loadConfig({ ...minimalEnv, LOG_FORMAT: 'json' }, true).log.format).toBe('json');
  });

  it('has no analytics sink by default, and reports analytics keys with the others', () => {
    expect(loadConfig(minimalEnv).analytics).toEqual({
      sinks: [],
      queueMaxEvents: 10_000,
      timeoutMs: 10_000,
      flushTimeoutMs: 3_000,
    });
    const err = configError({ ...minimalEnv, BLIP_PORT: 'abc', ANALYTICS_WEBHOOK_ENABLED: 'true' });
    expect(problemKeys(err).sort()).toEqual([
      'ANALYTICS_WEBHOOK_SECRET',
      'ANALYTICS_WEBHOOK_URL',
      'BLIP_PORT',
    ]);
    const config = loadConfig({
      ...minimalEnv,
      ANALYTICS_WEBHOOK_ENABLED: 'true',
      ANALYTICS_WEBHOOK_URL: 'https://hooks.acme.example/bridge',
      ANALYTICS_WEBHOOK_SECRET: 'a-secret-of-16-chars',
    });
    expect(config.analytics.sinks.map((s) => s.name)).toEqual(['webhook']);
  });
});

describe('loadConfig: session reports and the admin token', () => {
  const key = Buffer.from(Array.from({ length: 32 }, (_, i) => i * 7 + 1)).toString('base64');

  it('records to the SQLite file by default, text off, five years, admin routes off', () => {
    const config = loadConfig(minimalEnv);
    expect(config.reports).toEqual({
      enabled: true,
      databaseUrl: undefined,
      sqlitePath: 'data/reports.sqlite',
      retentionDays: 1826,
      storeText: false,
      textKey: undefined,
      timezone: 'UTC',
      teamTagPrefix: 'team_',
    });
    expect(config.databaseUrl).toBeUndefined();
    expect(config.adminToken).toBeUndefined();
  });

  it('reads PostgreSQL, text storage with its key, the zone and the admin token', () => {
    const config = loadConfig({
      ...minimalEnv,
      DATABASE_URL: 'postgresql://bridge:pw@db.internal:5432/bridge?sslmode=require',
      REPORTS_STORE_TEXT: 'true',
      REPORTS_TEXT_KEY: key,
      REPORTS_TIMEZONE: 'America/Sao_Paulo',
      REPORTS_RETENTION_DAYS: '365',
      REPORTS_ENABLED: 'no',
      ADMIN_TOKEN: 'x'.repeat(32),
    });
    expect(config.reports).toMatchObject({
      enabled: false,
      databaseUrl: 'postgresql://bridge:pw@db.internal:5432/bridge?sslmode=require',
      storeText: true,
      timezone: 'America/Sao_Paulo',
      retentionDays: 365,
    });
    expect(config.reports.textKey).toEqual(Buffer.from(key, 'base64'));
    expect(config.adminToken).toBe('x'.repeat(32));
  });

  it('names every bad reports key, without echoing the values', () => {
    const err = configError({
      ...minimalEnv,
      DATABASE_URL: 'mysql://root:hunter2@db/x',
      REPORTS_TEXT_KEY: 'c2hvcnQ=',
      REPORTS_TIMEZONE: 'Mars/Olympus',
      REPORTS_ENABLED: 'maybe',
      ADMIN_TOKEN: 'short',
    });
    expect(problemKeys(err).sort()).toEqual([
      'ADMIN_TOKEN',
      'DATABASE_URL',
      'REPORTS_ENABLED',
      'REPORTS_TEXT_KEY',
      'REPORTS_TIMEZONE',
    ]);
    expect(err.message).not.toContain('hunter2');
    expect(err.message).not.toContain('c2hvcnQ=');
  });

  it('requires the key when text storage is on', () => {
    const err = configError({ ...minimalEnv, REPORTS_STORE_TEXT: 'true' });
    expect(problemKeys(err)).toEqual(['REPORTS_TEXT_KEY']);
  });
});

describe('loadConfig: several helpdesks (BRIDGE_VENDORS, BRIDGE_ROUTES)', () => {
  const servicenow = {
    SERVICENOW_INSTANCE: 'acme',
    SERVICENOW_USERNAME: 'blip.integration',
    SERVICENOW_PASSWORD: 'servicenow-password-value',
    SERVICENOW_PUSH_SECRET: 'servicenow-push-secret-value',
  };

  it('enables BRIDGE_VENDOR alone by default', () => {
    const config = loadConfig(minimalEnv);
    expect(config.vendors.map((v) => v.name)).toEqual(['zendesk']);
    expect(config.vendor).toBe(config.vendors[0]);
    expect(config.routing).toEqual({ vendors: ['zendesk'], rules: [] });
  });

  it('enables every listed helpdesk with its own settings, the first as the default, and reads the rules', () => {
    const config = loadConfig({
      ...minimalEnv,
      ...servicenow,
      BRIDGE_VENDORS: ' ServiceNow , zendesk ',
      BRIDGE_ROUTES:
        '[{"team":"billing","vendor":"zendesk"},{"channel":"Instagram","hours":"closed","vendor":"zendesk"}]',
    });
    expect(config.vendors.map((v) => v.name)).toEqual(['servicenow', 'zendesk']);
    expect(config.vendor.name).toBe('servicenow');
    expect(config.vendors[0]!.settings).toMatchObject({ SERVICENOW_INSTANCE: 'acme' });
    expect(config.vendors[1]!.settings).toMatchObject({ ZENDESK_SUBDOMAIN: 'acme-suporte' });
    expect(config.routing.rules).toEqual([
      { team: 'billing', vendor: 'zendesk' },
      { channel: 'Instagram', hours: 'closed', vendor: 'zendesk' },
    ]);
  });

  it("requires each enabled helpdesk's own keys", () => {
    const err = configError({ ...minimalEnv, BRIDGE_VENDORS: 'zendesk,servicenow' });
    expect(problemKeys(err).sort()).toEqual([
      'SERVICENOW_INSTANCE',
      'SERVICENOW_PASSWORD',
      'SERVICENOW_USERNAME',
    ]);
  });

  it.each([
    ['an unknown helpdesk', { BRIDGE_VENDORS: 'zendesk,freshdesk' }, 'BRIDGE_VENDORS'],
    ['rules that are not JSON', { BRIDGE_ROUTES: '{team: billing}' }, 'BRIDGE_ROUTES'],
    [
      'a rule for a helpdesk not enabled',
      { BRIDGE_ROUTES: '[{"team":"x","vendor":"intercom"}]' },
      'BRIDGE_ROUTES[0].vendor',
    ],
    ['a rule without a condition', { BRIDGE_ROUTES: '[{"vendor":"zendesk"}]' }, 'BRIDGE_ROUTES[0]'],
    [
      'a rule with an unknown condition',
      { BRIDGE_ROUTES: '[{"vendor":"zendesk","tier":"gold"}]' },
      'BRIDGE_ROUTES[0]',
    ],
    [
      'a bad hours condition',
      { BRIDGE_ROUTES: '[{"vendor":"zendesk","hours":"night"}]' },
      'BRIDGE_ROUTES[0].hours',
    ],
  ])('refuses %s, naming the key', (_what, env, key) => {
    const err = configError({ ...minimalEnv, ...env });
    expect(problemKeys(err)).toEqual([key]);
  });
});

describe('loadConfig: HTTP_TRUST_PROXY (issue 17.10)', () => {
  it.each([
    [undefined, false],
    ['', false],
    ['false', false],
    ['0', false],
    ['2', 2],
    ['10.0.0.1', ['10.0.0.1']],
    [' 10.0.0.0/8 , 2001:db8::/32,loopback ', ['10.0.0.0/8', '2001:db8::/32', 'loopback']],
  ])('reads %j as %j', (value, expected) => {
    const env = value === undefined ? minimalEnv : { ...minimalEnv, HTTP_TRUST_PROXY: value };
    expect(loadConfig(env).http.trustProxy).toEqual(expected);
  });

  it.each(['true', 'TRUE', 'proxy.example.com', '10.0.0.0/33', '10.0.0.1,nonsense', '-1', '1.5'])(
    'refuses %j, naming the key without echoing the value',
    (value) => {
      const err = configError({ ...minimalEnv, HTTP_TRUST_PROXY: value });
      expect(problemKeys(err)).toEqual(['HTTP_TRUST_PROXY']);
      if (value.toLowerCase() !== 'true') expect(err.message).not.toContain(value);
    },
  );
});
