import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { AppError } from '../core/errors';
import { avatarRepository, type StoredAvatar } from './avatar.repository';
import { AvatarReview } from './avatar-review';
import type { AvatarStorage } from './avatar.storage';
import { IMAGE_FORMATS, parseStoredName, sniffImageFormat, storedName } from './image-format';

export interface AvatarServiceDeps {
  storage: AvatarStorage;
  /** AVATAR_MAX_BYTES. */
  maxBytes: number;
  /** PUBLIC_BASE_URL, or this server's own base URL when unset (no trailing slash). */
  publicBaseUrl: () => string;
}

export const AVATAR_PATH = '/avatars/';

/** Upload, record and address avatars. Plain functions of their inputs: the route only reads the multipart body. */
export function createAvatarService({ storage, maxBytes, publicBaseUrl }: AvatarServiceDeps) {
  const urlOf = (name: string) => `${publicBaseUrl()}${AVATAR_PATH}${name}`;

  return {
    maxBytes,
    storage,

    /**
     * Stores `data` as `userId`'s upload and answers its URL. Refused (nothing stored) when it is over the limit or its
     * bytes are not JPEG, PNG or WebP. The file is written before its row, and removed when the row cannot be:
     * a recorded upload always has its image, and no failure leaves an image behind.
     */
    async upload(em: EntityManager, userId: number, data: Buffer): Promise<{ url: string }> {
      if (data.length > maxBytes) throw tooLarge(maxBytes);
      if (data.length === 0)
        throw new AppError('BAD_USER_INPUT', 'The file field is empty: send the image in it.', { field: 'file' });
      const format = sniffImageFormat(data);
      if (!format) throw new AppError('AVATAR_UNSUPPORTED_TYPE');
      const id = randomBytes(16).toString('hex');
      const name = storedName(id, format);
      await storage.put(name, data);
      try {
        await avatarRepository(em).record({ id, userId, format, bytes: data.length, createdAt: new Date() });
      } catch (err) {
        await storage.delete(name).catch(() => undefined);
        throw err;
      }
      return { url: urlOf(name) };
    },

    /**
     * The check setProfile makes: is `url` exactly one this server's /avatar answered to `userId`, with its image in
     * storage? Answers the upload, or undefined for another host, another path, a query string, another user's upload
     * or a made-up id; so for a row whose image is gone (an INSERT that timed out here yet reached the database later, after its file was removed).
     */
    async issued(em: EntityManager, url: string, userId: number): Promise<StoredAvatar | undefined> {
      const prefix = `${publicBaseUrl()}${AVATAR_PATH}`;
      if (!url.startsWith(prefix)) return undefined;
      const stored = parseStoredName(url.slice(prefix.length));
      if (!stored) return undefined;
      const found = await avatarRepository(em).find(stored.id);
      if (found?.userId !== userId || found.format !== stored.format) return undefined;
      // A refused image is removed on purpose; its row stays to say so.
      if (found.review === AvatarReview.REJECTED) return found;
      return (await storage.exists(storedName(stored.id, stored.format))) ? found : undefined;
    },

    /** The URL /avatar answered for `avatar`. */
    urlOf: (avatar: Pick<StoredAvatar, 'id' | 'format'>) => urlOf(storedName(avatar.id, avatar.format)),

    /** Removes a refused image from storage (its row stays, REJECTED): best effort, a failure is only logged by the caller. */
    remove: (avatar: Pick<StoredAvatar, 'id' | 'format'>) => storage.delete(storedName(avatar.id, avatar.format)),

    contentType: (format: keyof typeof IMAGE_FORMATS) => IMAGE_FORMATS[format].contentType,
  };
}

export type AvatarService = ReturnType<typeof createAvatarService>;

export const tooLarge = (maxBytes: number) =>
  new AppError('AVATAR_TOO_LARGE', `The image is over ${maxBytes} bytes (AVATAR_MAX_BYTES): send a smaller one.`, {
    maxBytes,
  });
