import type { ErrorCode as ServerErrorCode, ErrorExtensionsFieldsFragment, TypedDocumentString } from '../gql/graphql';
import { config } from '../config';
import { postJson, WxError } from './http';

/** Codes the client gives a call that got no GraphQL answer; the server never sends them. */
export type ClientErrorCode =
  /** wx.request failed: no network, DNS, TLS, a domain not in the request allow-list. */
  | 'NETWORK_ERROR'
  /** The server answered something that is not a GraphQL response. */
  | 'BAD_RESPONSE';

/** The server's codes (the schema's ErrorCode enum, generated into gql/) and the client's own. */
export type ErrorCode = ServerErrorCode | ClientErrorCode;

/** `extensions` as the schema's ErrorExtensions types it: the fields other than code come only with some codes. */
export type ErrorExtensions = Partial<ErrorExtensionsFieldsFragment> & { [key: string]: unknown };

export interface GraphQLErrorBody {
  message: string;
  path?: (string | number)[];
  extensions?: ErrorExtensions;
}

/** Every failure of a GraphQL call, by its `extensions.code`. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly errors: GraphQLErrorBody[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
    // Keeps instanceof working when DevTools compiles classes down to ES5.
    Object.setPrototypeOf(this, ApiError.prototype);
  }

  /** The first error's extensions, e.g. wechatErrCode on PAYMENT_FAILED. */
  get extensions(): ErrorExtensions {
    return this.errors[0]?.extensions ?? {};
  }
}

export type AnyDocument<TResult, TVars> = TypedDocumentString<TResult, TVars>;

/** One POST /graphql, no retry. Most code wants `request` from ./client instead. */
export async function execute<TResult, TVars>(
  document: AnyDocument<TResult, TVars>,
  variables: TVars | undefined,
  token: string | undefined,
): Promise<TResult> {
  let res;
  try {
    res = await postJson(
      `${config.baseUrl}/graphql`,
      { query: document.toString(), variables: variables ?? {} },
      token ? { authorization: `Bearer ${token}` } : {},
    );
  } catch (err) {
    if (err instanceof WxError) throw new ApiError('NETWORK_ERROR', err.errMsg);
    throw err;
  }
  const body = res.data as { data?: TResult | null; errors?: GraphQLErrorBody[] } | string | null;
  if (!body || typeof body !== 'object')
    throw new ApiError('BAD_RESPONSE', `HTTP ${res.statusCode}: not a GraphQL response`);
  if (body.errors?.length) {
    const [first] = body.errors;
    throw new ApiError(first.extensions?.code ?? 'INTERNAL_SERVER_ERROR', first.message, body.errors);
  }
  if (!body.data) throw new ApiError('BAD_RESPONSE', `HTTP ${res.statusCode}: no data`);
  return body.data;
}
