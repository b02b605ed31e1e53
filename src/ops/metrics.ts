import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics, one registry per app (tests run several apps in one process). Labels are bounded:
 * operations are named by their root fields from the schema, never by client-chosen operation names.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    operations: new Counter({
      name: 'graphql_operations_total',
      help: 'GraphQL operations by root field(s) and outcome (ok or the error code).',
      labelNames: ['operation', 'outcome'] as const,
      registers: [registry],
    }),
    operationSeconds: new Histogram({
      name: 'graphql_operation_duration_seconds',
      help: 'GraphQL operation latency.',
      labelNames: ['operation'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    wechatCalls: new Counter({
      name: 'wechat_calls_total',
      help: "Calls to WeChat's APIs by API and outcome (ok or our error code).",
      labelNames: ['api', 'outcome'] as const,
      registers: [registry],
    }),
    accessTokenFetches: new Counter({
      name: 'wechat_access_token_fetches_total',
      help: 'access_token fetches (POST /cgi-bin/stable_token, each attempt) by this instance, by outcome (ok or our error code).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    notifies: new Counter({
      name: 'pay_notifies_total',
      help: 'Pay-result notifies by verdict.',
      labelNames: ['verdict'] as const,
      registers: [registry],
    }),
    orderTransitions: new Counter({
      name: 'order_transitions_total',
      help: 'Order state transitions by target state and what caused them.',
      labelNames: ['to', 'via'] as const,
      registers: [registry],
    }),
    refunds: new Counter({
      name: 'refunds_total',
      help: 'Refunds by outcome: accepted by WeChat, succeeded, or the error code that closed them.',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    refundNotifies: new Counter({
      name: 'refund_notifies_total',
      help: 'Refund-result notifies by verdict.',
      labelNames: ['verdict'] as const,
      registers: [registry],
    }),
    sweeps: new Counter({
      name: 'sweeper_actions_total',
      help: 'What the sweeper did: orders settled PAID or closed after orderquery, refunds reconciled by refundquery.',
      labelNames: ['action'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
