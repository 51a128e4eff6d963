/**
 * doctor's outbound-endpoint verdict (the emulated org has no Tooling API WorkflowOutboundMessage,
 * so the rule is tested here on the endpoint URL a real org reports).
 */
import { outboundEndpointVerdict } from '../../../proxy/src/cli/doctor-checks';

const CURRENT = 'f3a9c1e07b2d4c5a8e6f1b0d9c7a2e4f6b8d0c1a';
const OLD = '9e1b7d3c5a0f2e4d6c8b1a3f5e7d9c0b2a4f6e8d';
const URL = 'https://cps-sync.herokuapp.com';

describe('outboundEndpointVerdict', () => {
  it('passes the current token at PUBLIC_URL, without echoing it', () => {
    const verdict = outboundEndpointVerdict(`${URL}/salesforce/v1/outbound-messages/${CURRENT}`, URL, [
      CURRENT,
      OLD,
    ]);
    expect(verdict.status).toBe('pass');
    expect(verdict.detail).not.toContain(CURRENT);
  });

  it('warns while the endpoint still carries the older token of a rotation', () => {
    const verdict = outboundEndpointVerdict(`${URL}/salesforce/v1/outbound-messages/${OLD}`, URL, [
      CURRENT,
      OLD,
    ]);
    expect(verdict).toEqual({
      status: 'warn',
      detail: expect.stringMatching(/older token/),
      fix: expect.stringMatching(/secret-rotation/),
    });
  });

  it.each([
    [
      'another host',
      `https://old-app.herokuapp.com/salesforce/v1/outbound-messages/${CURRENT}`,
      /not PUBLIC_URL/,
    ],
    ['a retired token', `${URL}/salesforce/v1/outbound-messages/0000aaaa1111bbbb2222cccc`, /does not accept/],
    [
      'the placeholder',
      'https://proxy.invalid/salesforce/v1/outbound-messages/REPLACE_WITH_TOKEN',
      /not PUBLIC_URL/,
    ],
    ['another path', `${URL}/soap/${CURRENT}`, /not a proxy outbound-message URL/],
  ])('fails on %s with the redeploy fix', (_what, endpoint, detail) => {
    expect(outboundEndpointVerdict(endpoint, URL, [CURRENT, OLD])).toEqual({
      status: 'fail',
      detail: expect.stringMatching(detail),
      fix: expect.stringMatching(/scripts\/deploy-org\.ts/),
    });
  });
});
