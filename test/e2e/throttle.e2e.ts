import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.js';

describe('throttling, per caller, on REST and GraphQL', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ NSGATE_RATE_LIMIT: '20' });
  });
  afterAll(async () => t?.close());

  it('answers 429 RATE_LIMITED past the limit, for one caller and not for another', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) statuses.push((await t.http().get('/v1/host').set('authorization', `Bearer ${t.tokens.viewer}`)).status);
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(20);
    const limited = await t.http().get('/v1/host').set('authorization', `Bearer ${t.tokens.viewer}`);
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('RATE_LIMITED');
    const gql = await t.graphql('{ host { kernel } }', t.tokens.viewer);
    expect(gql.body).toMatchObject({ errors: [{ extensions: { code: 'RATE_LIMITED' } }] });
    // another caller has its own budget
    expect((await t.http().get('/v1/host').set('authorization', `Bearer ${t.tokens.admin}`)).status).toBe(200);
    // health checks are never throttled
    for (let i = 0; i < 30; i++) expect((await t.http().get('/healthz')).status).toBe(200);
  });
});
