import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { Kind, type GraphQLError, type OperationDefinitionNode } from 'graphql';
import { AppError } from '../core/errors';
import { isGraphQLLevelError } from '../core/graphql';
import { databaseUnavailable } from '../core/db';
import type { Context } from '../server/context';
import type { Metrics } from './metrics';

/**
 * Root field names, each once, sorted: a bounded, schema-defined name for an operation (client operationNames are not).
 * Each once, or `{ __typename __typename … }` and aliases of one field would make a new label (a metrics series) each.
 */
export function operationLabel(operation: OperationDefinitionNode | undefined): string {
  if (!operation) return 'invalid';
  const names = [
    ...new Set(operation.selectionSet.selections.map((s) => (s.kind === Kind.FIELD ? s.name.value : '…'))),
  ].sort();
  return names.length ? names.join(',').slice(0, 100) : 'empty';
}

/** A cause for the log: an Error's name and message, a string as is, a summary object as JSON (never "[object Object]"). */
function describeCause(cause: unknown): string {
  const text =
    cause instanceof Error
      ? `${cause.name}: ${cause.message}`
      : typeof cause === 'string'
        ? cause
        : JSON.stringify(cause);
  return (text ?? String(cause)).slice(0, 300);
}

function outcomeOf(errors: readonly GraphQLError[] | undefined): string {
  if (!errors?.length) return 'ok';
  const original = unwrapResolverError(errors[0]);
  if (original instanceof AppError) return original.code;
  if (databaseUnavailable(original)) return 'SERVICE_UNAVAILABLE';
  const code = errors[0].extensions?.code;
  return typeof code === 'string' && isGraphQLLevelError(original) ? code : 'INTERNAL_SERVER_ERROR';
}

/** `make(...labels)`, made once per set of label values and kept. */
function perLabels<T>(make: (...labels: string[]) => T): (...labels: string[]) => T {
  const made = new Map<string, T>();
  return (...labels) => {
    const key = labels.join('\0');
    let child = made.get(key);
    if (child === undefined) made.set(key, (child = make(...labels)));
    return child;
  };
}

/**
 * One log line and one metrics sample per GraphQL operation: its name, duration and outcome. Variables are never
 * logged: they carry codes, encryptedData and iv. Errors' causes are logged here too, since formatError hides them.
 */
export function operationLogPlugin(metrics: Metrics): ApolloServerPlugin<Context> {
  // prom-client hashes a labels object on every inc/observe; a child, looked up once per label set, does not. Both
  // label sets are bounded: root field names from the schema, outcomes from ERROR_CODES.
  const counterOf = perLabels((operation, outcome) => metrics.operations.labels(operation, outcome));
  const timerOf = perLabels((operation) => metrics.operationSeconds.labels(operation));
  return {
    async requestDidStart({ contextValue }) {
      const started = performance.now();
      return {
        async didEncounterErrors({ errors, operationName }) {
          for (const err of errors) {
            const original = unwrapResolverError(err);
            const appError = original instanceof AppError ? original : databaseUnavailable(original);
            if (appError) {
              if (appError.cause !== undefined)
                contextValue.log.warn(
                  { code: appError.code, operationName, cause: describeCause(appError.cause) },
                  appError.code,
                );
            } else if (!isGraphQLLevelError(original)) {
              contextValue.log.error({ err: original, operationName }, 'unexpected error');
            }
          }
        },
        async willSendResponse({ operation, errors, request }) {
          const seconds = (performance.now() - started) / 1000;
          const label = operationLabel(operation ?? undefined);
          const outcome = outcomeOf(errors);
          counterOf(label, outcome).inc();
          timerOf(label).observe(seconds);
          contextValue.log.info(
            {
              graphql: {
                operation: label,
                operationName: request.operationName?.slice(0, 64),
                outcome,
                durationMs: Math.round(seconds * 10000) / 10,
              },
            },
            'graphql operation',
          );
        },
      };
    },
  };
}
