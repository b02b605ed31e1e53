import { codeOf, markServicesSuite, startServer } from '../support/server';
import { startStandaloneSimulator } from '../support/standalone-simulator';
import { onServices } from '../support/target';

if (onServices) markServicesSuite();

const LIMITS = 'query { paymentLimits { maxAmount } }';

describe('paymentLimits', () => {
  it("when asked without a token, then it states the server's PAY_MAX_AMOUNT in fen", async () => {
    const t = await startServer({ env: { PAY_MAX_AMOUNT: '12345' } });
    try {
      const res = await t.gql<{ paymentLimits: { maxAmount: number } }>(LIMITS);
      expect(res.errors).toBeUndefined();
      expect(res.data!.paymentLimits).toEqual({ maxAmount: 12345 });
    } finally {
      await t.close();
    }
  });

  it('when payments are not configured, then PAYMENTS_DISABLED', async () => {
    const sim = await startStandaloneSimulator();
    const { WECHAT_APPID, WECHAT_SECRET, WECHAT_API_BASE } = sim.env();
    const t = await startServer({ env: { WECHAT_APPID, WECHAT_SECRET, WECHAT_API_BASE } });
    try {
      expect(codeOf(await t.gql(LIMITS))).toBe('PAYMENTS_DISABLED');
    } finally {
      await t.close();
      await sim.close();
    }
  });
});
