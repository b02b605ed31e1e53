import multipart from '@fastify/multipart';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import type { Orm } from '../core/db';
import { databaseUnavailable } from '../core/db';
import { AppError, isAppError, type ErrorCode } from '../core/errors';
import { bearerToken, type SessionStore } from '../auth/session';
import type { AvatarService } from './avatar.service';
import { AVATAR_PATH, tooLarge } from './avatar.service';
import { IMAGE_FORMATS, parseStoredName } from './image-format';
import { avatarRepository } from './avatar.repository';
import { AvatarReview } from './avatar-review';

export interface AvatarRouteParts {
  orm: Orm;
  sessions: SessionStore;
  avatars: AvatarService;
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  BAD_USER_INPUT: 400,
  UNAUTHENTICATED: 401,
  AVATAR_TOO_LARGE: 413,
  AVATAR_UNSUPPORTED_TYPE: 415,
  SERVICE_UNAVAILABLE: 503,
};

/** Errors answer in GraphQL's shape, so the mini-program reads them with the code it already has. */
function sendError(reply: FastifyReply, error: AppError) {
  return reply
    .code(STATUS[error.code] ?? 500)
    .send({ errors: [{ message: error.message, extensions: { ...error.extensions, code: error.code } }] });
}

const notMultipart = () =>
  new AppError(
    'BAD_USER_INPUT',
    'Send multipart/form-data with the image in the field named file (wx.uploadFile with name: "file").',
    { field: 'file' },
  );

/** The multipart plugin's and Fastify's own refusals as our codes; anything else stays unexpected. */
function asAppError(err: FastifyError, maxBytes: number): AppError | undefined {
  if (isAppError(err)) return err;
  if (err.code === 'FST_REQ_FILE_TOO_LARGE' || err.statusCode === 413) return tooLarge(maxBytes);
  if (err.code === 'FST_INVALID_MULTIPART_CONTENT_TYPE' || err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return notMultipart();
  if (err.code === 'FST_FILES_LIMIT' || err.code === 'FST_PARTS_LIMIT' || err.code === 'FST_FIELDS_LIMIT') {
    return new AppError('BAD_USER_INPUT', 'Send one file, in the field named file, and few other fields.', {
      field: 'file',
    });
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return notMultipart();
  return databaseUnavailable(err);
}

/**
 * POST /avatar (the upload, as wx.uploadFile sends it) and GET /avatars/<id>.<ext> (the stored images). In a scope of
 * their own, so the multipart parser and its limits touch no other route.
 */
export async function avatarRoutes(app: FastifyInstance, { orm, sessions, avatars }: AvatarRouteParts) {
  await app.register(multipart, {
    // One image, read into memory up to the limit and refused past it: nothing is written before the whole file is in.
    limits: { fileSize: avatars.maxBytes, files: 1, fields: 10, fieldSize: 1024, parts: 12, headerPairs: 100 },
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const known = asAppError(err, avatars.maxBytes);
    if (known) return sendError(reply, known);
    req.log.error({ err }, 'avatar request failed');
    return sendError(reply, new AppError('INTERNAL_SERVER_ERROR'));
  });

  app.post('/avatar', async (req, reply) => {
    const token = bearerToken(req.headers.authorization);
    const session = token ? await sessions.load(token) : undefined;
    // Refused before the body is parsed (Node discards the unread rest, within REQUEST_TIMEOUT_MS).
    if (!session) return sendError(reply, new AppError('UNAUTHENTICATED'));
    if (!req.isMultipart()) throw notMultipart();
    let data: Buffer | undefined;
    for await (const part of req.parts()) {
      if (part.type !== 'file') continue;
      if (part.fieldname !== 'file' || data) {
        part.file.resume();
        continue;
      }
      data = await part.toBuffer();
    }
    if (!data)
      throw new AppError(
        'BAD_USER_INPUT',
        'No file field: send the image in the field named file (wx.uploadFile with name: "file").',
        { field: 'file' },
      );
    return reply.send(await avatars.upload(orm.em.fork(), session.userId, data));
  });

  app.get<{ Params: { name: string } }>(`${AVATAR_PATH}:name`, async (req, reply) => {
    const stored = parseStoredName(req.params.name);
    const row = stored && (await avatarRepository(orm.em.fork()).find(stored.id));
    // A refused image is never served, even while its removal from storage is pending or failed.
    const image = row && row.review !== AvatarReview.REJECTED && (await avatars.storage.get(req.params.name));
    if (!stored || !image) return reply.code(404).send({ errors: [{ message: 'No such avatar.' }] });
    return (
      reply
        .header('content-type', IMAGE_FORMATS[stored.format].contentType)
        .header('content-length', image.bytes)
        // A name is never reused for other bytes (a random id per upload), so caches may keep a passed image
        // forever; one not (yet) passed may still be refused, so no cache keeps it.
        .header(
          'cache-control',
          row.review === AvatarReview.PASSED ? 'public, max-age=31536000, immutable' : 'no-store',
        )
        .header('x-content-type-options', 'nosniff')
        .send(image.stream)
    );
  });
}
