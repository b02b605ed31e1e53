import { codeOf, startServer, type TestServer } from '../support/server';
import { SecretWatch } from '../support/secrets';
import { freshDatabase } from '../support/target';
import {
  ORDER,
  ORDERS,
  armPayFault,
  createPayment,
  notificationsFor,
  orderRow,
  postNotify,
  requestPayment,
  returnCodeOf,
  signedNotify,
  CREATE_PAYMENT,
} from '../support/pay';
import { paySign, type SignType } from '../../src/wechat/pay-sign';
import { buildPayXml, parsePayXml } from '../../src/wechat/pay-xml';
import { startStandaloneSimulator } from '../support/standalone-simulator';

type OrderView = {
  id: string;
  outTradeNo: string;
  amount: number;
  status: string;
  transactionId: string | null;
  paidAt: string | null;
};

describe.each<SignType>(['MD5', 'HMAC-SHA256'])('WeChat Pay with WECHAT_PAY_SIGN_TYPE=%s', (signType) => {
  let t: TestServer;
  const secrets = new SecretWatch();

  beforeAll(async () => {
    t = await startServer({ env: { WECHAT_PAY_SIGN_TYPE: signType, PAY_DESCRIPTION: 'A&B <测试> 🐱' } });
    secrets.add(t.server.config.pay!.key);
  });
  afterAll(async () => {
    await t?.close();
  });

  const order = async (token: string, outTradeNo: string, refresh = false) =>
    (await t.gql<{ order: OrderView | null }>(ORDER, { outTradeNo, refresh }, token)).data?.order;

  it('when a user pays, then the notify marks the order PAID once, with transactionId and paidAt', async () => {
    const a = await t.login();
    await secrets.watchToken(t, a.token);
    const created = await createPayment(t, a.token, 1);
    expect(created.order).toMatchObject({ amount: 1, status: 'PENDING', description: 'A&B <测试> 🐱' });
    expect(created.order.outTradeNo).toMatch(/^[0-9A-Za-z_-]{1,32}$/);
    expect(created.payParams.signType).toBe(signType);
    expect(created.payParams.package).toMatch(/^prepay_id=\w+/);

    const paid = await requestPayment(t, created.payParams);
    expect(paid.body.errMsg).toBe('requestPayment:ok');
    expect(paid.body.deliveries?.map((d) => d.returnCode)).toEqual(['SUCCESS']);

    const after = await order(a.token, created.order.outTradeNo);
    expect(after).toMatchObject({ status: 'PAID', transactionId: paid.body.transactionId });
    expect(after!.paidAt).not.toBeNull();
    const notes = await notificationsFor(t, created.order.outTradeNo);
    expect(notes.map((n) => n.verdict)).toEqual(['PAID']);
  });

  it('when an order is created, then the answer is the row as order reads it afterwards, createdAt included', async () => {
    const a = await t.login();
    await secrets.watchToken(t, a.token);
    const fields = 'id outTradeNo amount description status transactionId paidAt createdAt';
    const res = await t.gql<{ createPayment: { order: Record<string, unknown> } }>(
      `mutation C($money: Int!) { createPayment(money: $money) { order { ${fields} } } }`,
      { money: 321 },
      a.token,
    );
    expect(res.errors).toBeUndefined();
    const created = res.data!.createPayment.order;
    const read = await t.gql<{ order: Record<string, unknown> }>(
      `query O($n: String!) { order(outTradeNo: $n) { ${fields} } }`,
      { n: created.outTradeNo },
      a.token,
    );
    expect(read.data!.order).toEqual(created);
    expect(created).toMatchObject({ amount: 321, status: 'PENDING', transactionId: null, paidAt: null });
  });

  it('when the paySign is not the second signature, then the simulated client refuses to pay', async () => {
    const a = await t.login();
    const created = await createPayment(t, a.token, 2);
    const res = await requestPayment(t, {
      ...created.payParams,
      paySign: created.payParams.paySign.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')),
    });
    expect(res.status).toBe(400);
    expect(res.body.errMsg).toMatch(/^requestPayment:fail/);
    expect((await order(a.token, created.order.outTradeNo))!.status).toBe('PENDING');
  });

  it.each([0, -1, 1_000_000_000, 100_001])(
    'when money is %i, then BAD_USER_INPUT and no order is created',
    async (money) => {
      const a = await t.login();
      const res = await t.gql(CREATE_PAYMENT, { money }, a.token);
      expect(codeOf(res)).toBe('BAD_USER_INPUT');
      expect((await t.gql<{ orders: unknown[] }>(ORDERS, {}, a.token)).data!.orders).toEqual([]);
    },
  );

  it('when money is not an integer, then GraphQL refuses it before any order exists', async () => {
    const a = await t.login();
    const res = await t.gql(CREATE_PAYMENT, { money: 1.5 }, a.token);
    expect(res.errors?.length).toBeGreaterThan(0);
    expect((await t.gql<{ orders: unknown[] }>(ORDERS, {}, a.token)).data!.orders).toEqual([]);
  });

  it('when there is no token, then createPayment is UNAUTHENTICATED', async () => {
    expect(codeOf(await t.gql(CREATE_PAYMENT, { money: 1 }))).toBe('UNAUTHENTICATED');
  });

  it('when unifiedorder answers FAIL, then PAYMENT_FAILED with WeChat err_code, and the order is CLOSED with the error recorded', async () => {
    const a = await t.login();
    await armPayFault(t, a.openid, { errCode: 'NOTENOUGH', errCodeDes: '余额不足' });
    const res = await t.gql(CREATE_PAYMENT, { money: 5 }, a.token);
    expect(codeOf(res)).toBe('PAYMENT_FAILED');
    expect(res.errors![0].extensions!.wechatErrCode).toBe('NOTENOUGH');
    const [o] = (await t.gql<{ orders: { outTradeNo: string; status: string }[] }>(ORDERS, {}, a.token)).data!.orders;
    expect(o.status).toBe('CLOSED');
    expect(String((await orderRow(t, o.outTradeNo))!.last_error)).toContain('NOTENOUGH');
  });

  it.each([
    [{ returnFail: true }, 'PAYMENT_FAILED'],
    [{ garbage: true }, 'WECHAT_UNAVAILABLE'],
    [{ httpStatus: 502 }, 'WECHAT_UNAVAILABLE'],
    [{ badSign: true }, 'WECHAT_UNAVAILABLE'],
  ])('when unifiedorder answers with fault %j, then %s and the order is not payable', async (fault, expected) => {
    const a = await t.login();
    await armPayFault(t, a.openid, fault);
    expect(codeOf(await t.gql(CREATE_PAYMENT, { money: 3 }, a.token))).toBe(expected);
    const orders = (await t.gql<{ orders: { status: string }[] }>(ORDERS, {}, a.token)).data!.orders;
    expect(orders.map((o) => o.status)).toEqual(['CLOSED']);
  });

  it('when another user asks for an order, then it is invisible to them', async () => {
    const owner = await t.login();
    const other = await t.login();
    const created = await createPayment(t, owner.token, 7);
    expect(await order(other.token, created.order.outTradeNo, true)).toBeNull();
    expect((await t.gql<{ orders: unknown[] }>(ORDERS, {}, other.token)).data!.orders).toEqual([]);
    expect((await order(owner.token, created.order.outTradeNo))!.amount).toBe(7);
  });

  it('when orders are listed, then they are the caller’s, newest first, limited by first', async () => {
    const a = await t.login();
    const made = [];
    for (const money of [11, 12, 13]) made.push((await createPayment(t, a.token, money)).order.outTradeNo);
    const all = (await t.gql<{ orders: { outTradeNo: string }[] }>(ORDERS, {}, a.token)).data!.orders;
    expect(all.map((o) => o.outTradeNo)).toEqual([...made].reverse());
    const two = (await t.gql<{ orders: { outTradeNo: string }[] }>(ORDERS, { first: 2 }, a.token)).data!.orders;
    expect(two.map((o) => o.outTradeNo)).toEqual([made[2], made[1]]);
  });

  it('when the notify is lost, then order(refresh: true) asks orderquery and ends PAID', async () => {
    const a = await t.login();
    const created = await createPayment(t, a.token, 9);
    const paid = await requestPayment(t, created.payParams, { deliver: false });
    expect(paid.body.errMsg).toBe('requestPayment:ok');
    expect((await order(a.token, created.order.outTradeNo))!.status).toBe('PENDING');
    const refreshed = await order(a.token, created.order.outTradeNo, true);
    expect(refreshed).toMatchObject({ status: 'PAID', transactionId: paid.body.transactionId });
    expect(await notificationsFor(t, created.order.outTradeNo)).toEqual([]);
    // The notify WeChat sends late is then a harmless repeat.
    const late = signedNotify(
      t,
      { out_trade_no: created.order.outTradeNo, total_fee: '9', transaction_id: paid.body.transactionId! },
      signType,
    );
    expect(returnCodeOf((await postNotify(t, late)).text)).toBe('SUCCESS');
    expect((await notificationsFor(t, created.order.outTradeNo)).map((n) => n.verdict)).toEqual(['DUPLICATE']);
  });

  it('when the user cancels, then the order stays PENDING and refresh keeps it PENDING', async () => {
    const a = await t.login();
    const created = await createPayment(t, a.token, 4);
    const res = await requestPayment(t, created.payParams, { cancel: true });
    expect(res.body.errMsg).toBe('requestPayment:fail cancel');
    expect((await order(a.token, created.order.outTradeNo, true))!.status).toBe('PENDING');
  });

  describe('when a notify cannot be trusted, then it is answered FAIL, the order is unchanged and the raw notify is kept', () => {
    let a: { token: string; openid: string };
    beforeAll(async () => {
      a = await t.login();
    });

    async function pendingOrder(money = 10) {
      const created = await createPayment(t, a.token, money);
      return { outTradeNo: created.order.outTradeNo, before: await orderRow(t, created.order.outTradeNo), created };
    }

    it('a bad sign', async () => {
      const { outTradeNo, before, created } = await pendingOrder();
      const res = await requestPayment(t, created.payParams, { tamper: 'sign' });
      expect(res.body.deliveries?.every((d) => d.returnCode === 'FAIL')).toBe(true);
      expect(await orderRow(t, outTradeNo)).toEqual(before);
      const notes = await notificationsFor(t, outTradeNo);
      expect(notes[0].verdict).toBe('BAD_SIGN');
      expect(notes[0].raw_body).toContain(outTradeNo);
    });

    it('a wrong amount, correctly signed', async () => {
      const { outTradeNo, before, created } = await pendingOrder(10);
      const res = await requestPayment(t, created.payParams, { tamper: 'amount' });
      expect(res.body.deliveries?.[0].returnCode).toBe('FAIL');
      expect(await orderRow(t, outTradeNo)).toEqual(before);
      expect((await notificationsFor(t, outTradeNo))[0].verdict).toBe('AMOUNT_MISMATCH');
    });

    it.each([
      ['a wrong appid', { appid: 'wx0000000000other0' }],
      ['a wrong mch_id', { mch_id: '1234567890' }],
    ])('%s, correctly signed', async (_name, override) => {
      const { outTradeNo, before } = await pendingOrder(10);
      const res = await postNotify(
        t,
        signedNotify(t, { out_trade_no: outTradeNo, total_fee: '10', ...override }, signType),
      );
      expect(returnCodeOf(res.text)).toBe('FAIL');
      expect(await orderRow(t, outTradeNo)).toEqual(before);
      expect((await notificationsFor(t, outTradeNo))[0].verdict).toBe('WRONG_MERCHANT');
    });

    it('an unknown order', async () => {
      const res = await postNotify(t, signedNotify(t, { out_trade_no: 'NoSuchOrder123', total_fee: '10' }, signType));
      expect(returnCodeOf(res.text)).toBe('FAIL');
      expect((await notificationsFor(t, 'NoSuchOrder123'))[0].verdict).toBe('UNKNOWN_ORDER');
    });

    it('a result_code FAIL', async () => {
      const { outTradeNo, before } = await pendingOrder(10);
      const res = await postNotify(
        t,
        signedNotify(t, { out_trade_no: outTradeNo, total_fee: '10', result_code: 'FAIL', err_code: 'X' }, signType),
      );
      expect(returnCodeOf(res.text)).toBe('FAIL');
      expect(await orderRow(t, outTradeNo)).toEqual(before);
      expect((await notificationsFor(t, outTradeNo))[0].verdict).toBe('NOT_SUCCESS');
    });

    it.each([
      ['malformed XML', (n: string) => `<xml><out_trade_no>${n}</out_trade_no><total_fee>10`, 400, 'MALFORMED'],
      [
        'a DOCTYPE/entity bomb',
        (n: string) =>
          `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><xml><out_trade_no>${n}</out_trade_no><x>&lol2;</x></xml>`,
        400,
        'DOCTYPE_REFUSED',
      ],
      [
        'a body over the 64 KB cap',
        (n: string) => `<xml><out_trade_no>${n}</out_trade_no><pad>${'x'.repeat(70 * 1024)}</pad></xml>`,
        413,
        'BODY_TOO_LARGE',
      ],
    ])('%s', async (_name, body, status, verdict) => {
      const { outTradeNo, before } = await pendingOrder(10);
      const marker = `${outTradeNo}`;
      const res = await postNotify(t, body(marker));
      expect(res.status).toBe(status);
      expect(returnCodeOf(res.text)).toBe('FAIL');
      expect(await orderRow(t, outTradeNo)).toEqual(before);
      // These cannot be parsed, so the row is found by its raw body.
      const kept = (await notificationsFor(t, null)).filter((n) => n.raw_body.includes(marker));
      expect(kept.map((n) => n.verdict)).toEqual([verdict]);
      if (verdict === 'BODY_TOO_LARGE') {
        // Unverified bodies keep only their first 4 KB; the size as received is recorded.
        expect(kept[0].raw_body.length).toBe(4 * 1024);
        expect(kept[0].body_bytes).toBeGreaterThan(64 * 1024);
      }
    });

    it('a body sent as application/xml is read the same way', async () => {
      const { outTradeNo } = await pendingOrder(10);
      const res = await postNotify(
        t,
        signedNotify(t, { out_trade_no: outTradeNo, total_fee: '10' }, signType),
        'application/xml',
      );
      expect(returnCodeOf(res.text)).toBe('SUCCESS');
      expect((await orderRow(t, outTradeNo))!.status).toBe('PAID');
    });
  });

  it('when a notify comes without sign_type from an HMAC merchant, or without a Content-Type, then it is still verified and applied', async () => {
    const a = await t.login();
    const created = await createPayment(t, a.token, 6);
    let body = signedNotify(t, { out_trade_no: created.order.outTradeNo, total_fee: '6' }, signType);
    if (signType === 'HMAC-SHA256') {
      // Re-sign without the sign_type field, as some HMAC merchants receive it.
      const { key } = t.server.config.pay!;
      const fields = parsePayXml(body);
      delete fields.sign_type;
      delete fields.sign;
      body = buildPayXml({ ...fields, sign: paySign(fields, key, 'HMAC-SHA256') });
    }
    const res = await fetch(`${t.url}/notify`, { method: 'POST', body: new TextEncoder().encode(body) });
    expect(returnCodeOf(await res.text())).toBe('SUCCESS');
    expect((await orderRow(t, created.order.outTradeNo))!.status).toBe('PAID');
  });

  it('when total_fee is the amount with a leading zero, then it is an AMOUNT_MISMATCH even though it is signed', async () => {
    const a = await t.login();
    const created = await createPayment(t, a.token, 10);
    const res = await postNotify(
      t,
      signedNotify(t, { out_trade_no: created.order.outTradeNo, total_fee: '010' }, signType),
    );
    expect(returnCodeOf(res.text)).toBe('FAIL');
    expect((await orderRow(t, created.order.outTradeNo))!.status).toBe('PENDING');
  });

  it('when a notify carries a tag the XML parser chokes on, then it is MALFORMED with 400, not a 500', async () => {
    const res = await postNotify(t, '<xml><constructor>PROBE-constructor</constructor></xml>');
    expect(res.status).toBe(400);
    const kept = (await notificationsFor(t, null)).filter((n) => n.raw_body.includes('PROBE-constructor'));
    expect(kept.map((n) => n.verdict)).toEqual(['MALFORMED']);
  });

  it('when money arrives for an order we had CLOSED, then it is answered SUCCESS, the order stays CLOSED, and an error is logged', async () => {
    const a = await t.login();
    await armPayFault(t, a.openid, { errCode: 'SYSTEMERROR' });
    await t.gql(CREATE_PAYMENT, { money: 12 }, a.token);
    const [closed] = (await t.gql<{ orders: { outTradeNo: string; status: string }[] }>(ORDERS, {}, a.token)).data!
      .orders;
    expect(closed.status).toBe('CLOSED');
    const res = await postNotify(t, signedNotify(t, { out_trade_no: closed.outTradeNo, total_fee: '12' }, signType));
    expect(returnCodeOf(res.text)).toBe('SUCCESS');
    expect((await orderRow(t, closed.outTradeNo))!.status).toBe('CLOSED');
    expect((await notificationsFor(t, closed.outTradeNo)).map((n) => n.verdict)).toEqual(['ORDER_CLOSED']);
    expect(t.logs.some((l) => l.includes('refund needed') && l.includes(closed.outTradeNo))).toBe(true);
  });

  it('when a notify names a transaction already recorded on another order, then it is a CONFLICT and nothing changes', async () => {
    const a = await t.login();
    const first = await createPayment(t, a.token, 13);
    const second = await createPayment(t, a.token, 14);
    const txn = `4200${Date.now()}`.padEnd(28, '7');
    expect(
      returnCodeOf(
        (
          await postNotify(
            t,
            signedNotify(t, { out_trade_no: first.order.outTradeNo, total_fee: '13', transaction_id: txn }, signType),
          )
        ).text,
      ),
    ).toBe('SUCCESS');
    const before = await orderRow(t, second.order.outTradeNo);
    const res = await postNotify(
      t,
      signedNotify(t, { out_trade_no: second.order.outTradeNo, total_fee: '14', transaction_id: txn }, signType),
    );
    expect(returnCodeOf(res.text)).toBe('FAIL');
    expect(await orderRow(t, second.order.outTradeNo)).toEqual(before);
    expect((await notificationsFor(t, second.order.outTradeNo)).map((n) => n.verdict)).toEqual(['CONFLICT']);
  });

  it('when WeChat reports a PENDING order CLOSED, then refresh closes it here too', async () => {
    const a = await t.login();
    const created = await createPayment(t, a.token, 15);
    await t.server.wechatPay!.closeOrder(created.order.outTradeNo);
    expect((await order(a.token, created.order.outTradeNo, true))!.status).toBe('CLOSED');
  });

  it('when a processed notify is delivered again, then it is answered SUCCESS and nothing changes', async () => {
    const a = await t.login();
    const created = await createPayment(t, a.token, 8);
    const body = signedNotify(t, { out_trade_no: created.order.outTradeNo, total_fee: '8' }, signType);
    expect(returnCodeOf((await postNotify(t, body)).text)).toBe('SUCCESS');
    const once = await orderRow(t, created.order.outTradeNo);
    expect(once!.status).toBe('PAID');
    const again = await postNotify(t, body);
    expect(again.text).toBe(
      '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>',
    );
    expect(await orderRow(t, created.order.outTradeNo)).toEqual(once);
    expect((await notificationsFor(t, created.order.outTradeNo)).map((n) => n.verdict)).toEqual(['PAID', 'DUPLICATE']);
  });

  it('when the suite is done, then no response body or log line carried a session_key or the pay key', () => {
    expect(secrets.leaks(t)).toEqual([]);
  });
});

describe('a server without a merchant', () => {
  it('when WeChat Pay is not configured, then createPayment is PAYMENTS_DISABLED and /notify answers FAIL, keeping the body', async () => {
    const sim = await startStandaloneSimulator();
    const { WECHAT_APPID, WECHAT_SECRET, WECHAT_API_BASE } = sim.env();
    const t = await startServer({ env: { WECHAT_APPID, WECHAT_SECRET, WECHAT_API_BASE } });
    try {
      const { code } = await sim.loginCode();
      const login = await t.gql<{ login: { token: string } }>(`mutation($c: String!) { login(code: $c) { token } }`, {
        c: code,
      });
      expect(codeOf(await t.gql(CREATE_PAYMENT, { money: 1 }, login.data!.login.token))).toBe('PAYMENTS_DISABLED');
      const res = await postNotify(t, '<xml><out_trade_no>NoMerchant</out_trade_no></xml>');
      expect(res.status).toBe(503);
      expect(returnCodeOf(res.text)).toBe('FAIL');
      expect((await notificationsFor(t, null)).some((n) => n.raw_body.includes('NoMerchant'))).toBe(true);
    } finally {
      await t.close();
      await sim.close();
    }
  });
});

describe('a notify the server fails to process', () => {
  it('when the database fails mid-judgement, then the answer is a 500 FAIL (WeChat retries) and the row says ERROR, not RECEIVED', async () => {
    const t = await startServer();
    try {
      const a = await t.login();
      const created = await createPayment(t, a.token, 21);
      const body = signedNotify(t, { out_trade_no: created.order.outTradeNo, total_fee: '21' });
      await t.server.orm.em.fork().getConnection().execute('alter table orders rename to orders_gone');
      const res = await postNotify(t, body);
      expect(res.status).toBe(500);
      expect(returnCodeOf(res.text)).toBe('FAIL');
      const rows = (await t.server.orm.em
        .fork()
        .getConnection()
        .execute('select verdict, detail from payment_notifications where out_trade_no = ?', [
          created.order.outTradeNo,
        ])) as { verdict: string }[];
      expect(rows.map((r) => r.verdict)).toEqual(['ERROR']);
    } finally {
      await t.close();
    }
  });
});

describe('a WeChat Pay that answers too slowly', () => {
  it('when unifiedorder outlasts the timeout, then WECHAT_UNAVAILABLE and the order is CLOSED', async () => {
    // 2 s, so the login before it has room on a loaded machine; the simulator stops its delay once the caller hangs up.
    const t = await startServer({ env: { WECHAT_TIMEOUT_MS: '2000' } });
    try {
      const a = await t.login();
      await armPayFault(t, a.openid, { delayMs: 60_000 });
      const res = await t.gql(CREATE_PAYMENT, { money: 1 }, a.token);
      expect(codeOf(res)).toBe('WECHAT_UNAVAILABLE');
      const orders = (await t.gql<{ orders: { status: string }[] }>(ORDERS, {}, a.token)).data!.orders;
      expect(orders.map((o) => o.status)).toEqual(['CLOSED']);
    } finally {
      await t.close();
    }
  });
});

describe('50 concurrent copies of one notify over two server instances', () => {
  it('when they race, then exactly one transition happens and every copy is answered SUCCESS', async () => {
    const db = await freshDatabase();
    const a = await startServer({ database: db });
    const b = await startServer({ database: db, env: { MIGRATE_ON_START: '0' } });
    try {
      const user = await a.login();
      const created = await createPayment(a, user.token, 50);
      const res = await requestPayment(a, created.payParams, {
        duplicates: 50,
        notifyUrls: [`${a.url}/notify`, `${b.url}/notify`],
      });
      expect(res.body.errMsg).toBe('requestPayment:ok');
      expect(res.body.deliveries).toHaveLength(50);
      expect(new Set(res.body.deliveries!.map((d) => d.url))).toEqual(new Set([`${a.url}/notify`, `${b.url}/notify`]));
      expect(res.body.deliveries!.every((d) => d.returnCode === 'SUCCESS')).toBe(true);

      const verdicts = (await notificationsFor(a, created.order.outTradeNo)).map((n) => n.verdict);
      expect(verdicts).toHaveLength(50);
      expect(verdicts.filter((v) => v === 'PAID')).toHaveLength(1);
      expect(verdicts.filter((v) => v === 'DUPLICATE')).toHaveLength(49);
      const row = await orderRow(a, created.order.outTradeNo);
      expect(row).toMatchObject({ status: 'PAID', transaction_id: res.body.transactionId });
    } finally {
      await a.close();
      await b.close();
      await db.drop();
    }
  });
});
