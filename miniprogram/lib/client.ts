import { ApiError, execute, type AnyDocument, type ErrorCode } from './graphql';
import { currentToken, relogin } from './session';

export { ApiError, type ErrorCode } from './graphql';

/** Codes that a fresh wx.login + login cure: a token the server no longer knows, or a rotated session_key. */
const RELOGIN_CODES: readonly ErrorCode[] = ['UNAUTHENTICATED', 'WECHAT_DECRYPT_FAILED'];

/**
 * Variables, or a function that makes them. A function is called again for the retry after a re-login: data
 * sealed with the old session_key (wx.getUserProfile's) must be fetched again, not resent.
 */
export type Variables<TVars> = TVars | (() => TVars | Promise<TVars>);

type VariablesArgs<TVars> =
  Record<string, never> extends TVars ? [variables?: Variables<TVars>] : [variables: Variables<TVars>];

/**
 * One typed GraphQL call with the stored session. On UNAUTHENTICATED or WECHAT_DECRYPT_FAILED it logs in again
 * (single-flight, see ./session) and retries once; any other error, or a second failure, is thrown as ApiError.
 */
export async function request<TResult, TVars>(
  document: AnyDocument<TResult, TVars>,
  ...[variables]: VariablesArgs<TVars>
): Promise<TResult> {
  const make = (): TVars | Promise<TVars> | undefined =>
    typeof variables === 'function' ? (variables as () => TVars | Promise<TVars>)() : variables;
  // Called before the first await: a variables function may use an API that needs the user's tap (getUserProfile).
  const first = make();
  const [vars, token] = await Promise.all([first, currentToken()]);
  try {
    return await execute(document, vars, token);
  } catch (err) {
    if (!(err instanceof ApiError) || !RELOGIN_CODES.includes(err.code)) throw err;
    await relogin(token);
    return execute(document, await make(), await currentToken());
  }
}
