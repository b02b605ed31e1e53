import { config } from '../config';
import { ApiError, type GraphQLErrorBody } from './graphql';
import { uploadFile, WxError } from './http';
import { currentToken, relogin } from './session';

/**
 * chooseAvatar's temporary file → POST /avatar (wx.uploadFile, field `file`) → the URL the server issued, which is
 * what setProfile takes. The temporary path means nothing off this phone and soon nothing on it: never store it.
 * A refused token logs in again (as ./client does) and uploads once more.
 */
export async function uploadAvatar(filePath: string): Promise<string> {
  const token = await currentToken();
  try {
    return await uploadOnce(filePath, token);
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== 'UNAUTHENTICATED') throw err;
    await relogin(token);
    return uploadOnce(filePath, await currentToken());
  }
}

interface UploadAnswer {
  url?: unknown;
  errors?: GraphQLErrorBody[];
}

async function uploadOnce(filePath: string, token: string): Promise<string> {
  let res;
  try {
    res = await uploadFile(`${config.baseUrl}/avatar`, filePath, 'file', { Authorization: `Bearer ${token}` });
  } catch (err) {
    if (err instanceof WxError) throw new ApiError('NETWORK_ERROR', err.errMsg);
    throw err;
  }
  const body = parseObject(res.data);
  if (res.statusCode === 200 && typeof body?.url === 'string') return body.url;
  // Refusals come in GraphQL's error shape: {errors: [{message, extensions: {code, …}}]}.
  const code = body?.errors?.[0]?.extensions?.code;
  if (body?.errors && code) throw new ApiError(code, body.errors[0].message, body.errors);
  // A proxy in front refused the body before the server saw it (nginx's client_max_body_size is 1 MB by default).
  if (res.statusCode === 413) throw new ApiError('AVATAR_TOO_LARGE', `HTTP 413 from a proxy`);
  throw new ApiError('BAD_RESPONSE', `HTTP ${res.statusCode}: not an answer of POST /avatar`);
}

/** wx.uploadFile hands over the body as text. */
function parseObject(text: string): UploadAnswer | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' ? value : undefined;
  } catch {
    return undefined;
  }
}
