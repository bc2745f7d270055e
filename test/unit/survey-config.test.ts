/** BRIDGE_SURVEY and BRIDGE_SURVEY_TIMEOUT_SECONDS: defaults, values, and the problems a wrong one reports. */
import { ConfigError, loadConfig } from '../../src/config';

const minimalEnv = {
  BLIP_IDENTIFIER: 'acmehelpdesk',
  BLIP_ACCESS_KEY: 'YmxpcC1hY2Nlc3Mta2V5LXZhbHVl',
  ZENDESK_SUBDOMAIN: 'acme-suporte',
  ZENDESK_EMAIL: 'bridge@acme.com.br',
  ZENDESK_API_TOKEN: 'zendesk-api-token-value',
  ZENDESK_WEBHOOK_SECRET: 'zendesk-webhook-secret-value',
};

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig({ ...minimalEnv, ...env });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('loadConfig accepted the environment');
}

describe('survey configuration', () => {
  it('is off by default, with a 300 s timeout', () => {
    expect(loadConfig(minimalEnv).survey).toEqual({ mode: 'off', timeoutMs: 300_000 });
  });

  it('takes bridge and main-bot, and the timeout in seconds', () => {
    expect(
      loadConfig({ ...minimalEnv, BRIDGE_SURVEY: 'bridge', BRIDGE_SURVEY_TIMEOUT_SECONDS: '120' }).survey,
    ).toEqual({ mode: 'bridge', timeoutMs: 120_000 });
    expect(loadConfig({ ...minimalEnv, BRIDGE_SURVEY: 'main-bot' }).survey.mode).toBe('main-bot');
  });

  it('names the key and the allowed values of a wrong one', () => {
    expect(problems({ BRIDGE_SURVEY: 'yes' }).join('\n')).toMatch(/BRIDGE_SURVEY.*off, bridge or main-bot/);
    for (const wrong of ['0', '1.5', 'soon', '100000']) {
      expect(problems({ BRIDGE_SURVEY_TIMEOUT_SECONDS: wrong }).join('\n')).toMatch(
        /BRIDGE_SURVEY_TIMEOUT_SECONDS.*seconds from 1 to 86400/,
      );
    }
  });

  it('overrides the survey texts per locale through BRIDGE_TEXTS', () => {
    const config = loadConfig({
      ...minimalEnv,
      BRIDGE_TEXTS: JSON.stringify({ es: { surveyQuestion: '¿Qué tal te atendimos?' } }),
    });
    expect(config.texts.byLocale.es?.surveyQuestion).toBe('¿Qué tal te atendimos?');
    expect(config.texts.byLocale['pt-BR']?.surveyQuestion).toBe(
      'Como você avalia o atendimento que recebeu?',
    );
  });
});
