import { analyticsConfigKeys, parseAnalyticsConfig } from '../../src/analytics';

const problemKeys = (env: Record<string, string>) =>
  parseAnalyticsConfig(env).problems.map((p) => p.split(':')[0]);

describe('analytics configuration', () => {
  it('has no sink and the documented defaults when nothing is set', () => {
    expect(parseAnalyticsConfig({})).toEqual({
      problems: [],
      config: { sinks: [], queueMaxEvents: 10_000, timeoutMs: 10_000, flushTimeoutMs: 3_000 },
    });
  });

  it('enables a sink with every event it supports and the global privacy defaults', () => {
    const { config } = parseAnalyticsConfig({
      ANALYTICS_CHATBASE_ENABLED: 'true',
      ANALYTICS_CHATBASE_API_KEY: 'key',
      ANALYTICS_OMIT_TEXT: 'true',
    });
    expect(config?.sinks).toEqual([
      {
        name: 'chatbase',
        events: ['customer.message', 'agent.message', 'automatic.message'],
        omitText: true,
        hashCustomerIds: false,
        settings: {
          ANALYTICS_CHATBASE_API_KEY: 'key',
          ANALYTICS_CHATBASE_URL: 'https://chatbase-area120.appspot.com/api/messages',
        },
      },
    ]);
  });

  it('requires the URL and a 16+ character secret of an enabled webhook, and says which switch asks for them', () => {
    const { problems } = parseAnalyticsConfig({ ANALYTICS_WEBHOOK_ENABLED: 'true' });
    expect(problems.sort()).toEqual([
      'ANALYTICS_WEBHOOK_SECRET: is required when ANALYTICS_WEBHOOK_ENABLED=true',
      'ANALYTICS_WEBHOOK_URL: is required when ANALYTICS_WEBHOOK_ENABLED=true',
    ]);
    expect(
      problemKeys({
        ANALYTICS_WEBHOOK_ENABLED: 'true',
        ANALYTICS_WEBHOOK_URL: 'ftp://x',
        ANALYTICS_WEBHOOK_SECRET: 'short',
      }).sort(),
    ).toEqual(['ANALYTICS_WEBHOOK_SECRET', 'ANALYTICS_WEBHOOK_URL']);
  });

  it('checks the form of a disabled sink keys too, without requiring them', () => {
    expect(
      parseAnalyticsConfig({ ANALYTICS_SEGMENT_URL: 'https://api.segment.io/v1/batch' }).problems,
    ).toEqual([]);
    expect(problemKeys({ ANALYTICS_SEGMENT_URL: 'not a url' })).toEqual(['ANALYTICS_SEGMENT_URL']);
  });

  it('picks events per sink, in the documented order, and refuses events a tool cannot take', () => {
    const { config } = parseAnalyticsConfig({
      ANALYTICS_SEGMENT_ENABLED: 'true',
      ANALYTICS_SEGMENT_WRITE_KEY: 'wk',
      ANALYTICS_SEGMENT_EVENTS: ' ticket.closed, handoff.started ,ticket.closed',
    });
    expect(config?.sinks[0]?.events).toEqual(['handoff.started', 'ticket.closed']);
    const { problems } = parseAnalyticsConfig({
      ANALYTICS_CHATBASE_ENABLED: 'true',
      ANALYTICS_CHATBASE_API_KEY: 'k',
      ANALYTICS_CHATBASE_EVENTS: 'customer.message,ticket.closed',
    });
    expect(problems).toEqual([
      'ANALYTICS_CHATBASE_EVENTS: Chatbase cannot take ticket.closed; choose among customer.message, agent.message, automatic.message (or all)',
    ]);
  });

  it('lets a sink override the global privacy options, and requires a salt when ids are hashed', () => {
    const env = {
      ANALYTICS_HASH_CUSTOMER_IDS: 'true',
      ANALYTICS_WEBHOOK_ENABLED: 'true',
      ANALYTICS_WEBHOOK_URL: 'https://hooks.example/x',
      ANALYTICS_WEBHOOK_SECRET: '0123456789abcdef',
      ANALYTICS_WEBHOOK_HASH_CUSTOMER_IDS: 'false',
      ANALYTICS_DASHBOT_ENABLED: 'true',
      ANALYTICS_DASHBOT_API_KEY: 'k',
    };
    expect(problemKeys(env)).toEqual(['ANALYTICS_HASH_SALT']);
    expect(parseAnalyticsConfig(env).problems[0]).toContain('dashbot');
    const { config } = parseAnalyticsConfig({ ...env, ANALYTICS_HASH_SALT: 'a-long-random-salt' });
    expect(config?.sinks.map((s) => [s.name, s.hashCustomerIds])).toEqual([
      ['webhook', false],
      ['dashbot', true],
    ]);
    expect(config?.hashSalt).toBe('a-long-random-salt');
  });

  it.each([
    ['ANALYTICS_WEBHOOK_ENABLED', 'yes please'],
    ['ANALYTICS_OMIT_TEXT', 'maybe'],
    ['ANALYTICS_QUEUE_MAX_EVENTS', '0'],
    ['ANALYTICS_TIMEOUT_MS', 'soon'],
    ['ANALYTICS_BOTANALYTICS_API', 'v3'],
  ])('names %s when it is invalid (%s)', (key, value) => {
    expect(problemKeys({ [key]: value })).toEqual([key]);
  });

  it('never echoes a value in its errors', () => {
    const marker = 'MARKER-do-not-echo';
    const { problems } = parseAnalyticsConfig({
      ANALYTICS_WEBHOOK_ENABLED: 'true',
      ANALYTICS_WEBHOOK_URL: `nope-${marker}`,
      ANALYTICS_WEBHOOK_SECRET: marker.slice(0, 5),
      ANALYTICS_HASH_SALT: 'x',
    });
    expect(problems.join('\n')).not.toContain(marker);
    expect(problems.join('\n')).not.toContain(marker.slice(0, 5));
  });

  it('lists every key with the ANALYTICS_ prefix, once, the sink keys with their sink name', () => {
    const keys = analyticsConfigKeys();
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.every((k) => k.startsWith('ANALYTICS_'))).toBe(true);
    for (const sink of ['WEBHOOK', 'DASHBOT', 'CHATBASE', 'BOTANALYTICS', 'SEGMENT']) {
      for (const common of ['ENABLED', 'EVENTS', 'OMIT_TEXT', 'HASH_CUSTOMER_IDS']) {
        expect(keys).toContain(`ANALYTICS_${sink}_${common}`);
      }
    }
  });
});
