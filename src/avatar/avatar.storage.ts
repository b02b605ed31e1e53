import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { parseStoredName } from './image-format';

/**
 * Where avatar images live, by name (`<id>.<ext>`, see image-format.ts). Local disk is the default; object storage
 * (COS, OSS, S3) is another implementation of these four calls, and a CDN goes in front of GET /avatars or of the
 * bucket (docs/operations.md).
 */
export interface AvatarStorage {
  /** Stores the whole image under `name`, or nothing: a reader never sees a partial file. */
  put(name: string, data: Buffer): Promise<void>;
  /** The image, or undefined when there is none by that name. */
  get(name: string): Promise<{ stream: Readable; bytes: number } | undefined>;
  /** Is there an image by that name? */
  exists(name: string): Promise<boolean>;
  /** Removes it (an upload whose record failed); absent is fine. */
  delete(name: string): Promise<void>;
}

/** Names are checked here too, so no caller can make a path of one: only `<32 hex>.<jpg|png|webp>` reaches the disk. */
function checked(name: string): string {
  if (!parseStoredName(name)) throw new Error('not an avatar file name');
  return name;
}

/** AVATAR_DIR on local disk. A file is written under a temporary name, then renamed: the rename is atomic on one file system. */
export function diskAvatarStorage(dir: string): AvatarStorage {
  const root = resolve(dir);
  let made: Promise<unknown> | undefined;
  const ready = () => (made ??= mkdir(root, { recursive: true }));
  return {
    async put(name, data) {
      const target = join(root, checked(name));
      await ready();
      const temp = join(root, `.upload-${randomBytes(8).toString('hex')}`);
      try {
        await writeFile(temp, data, { flag: 'wx' });
        await rename(temp, target);
      } catch (err) {
        await unlink(temp).catch(() => undefined);
        throw err;
      }
    },
    async get(name) {
      if (!parseStoredName(name)) return undefined;
      const path = join(root, name);
      try {
        const { size, isFile } = await stat(path).then((s) => ({ size: s.size, isFile: s.isFile() }));
        if (!isFile) return undefined;
        return { stream: createReadStream(path), bytes: size };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    async exists(name) {
      if (!parseStoredName(name)) return false;
      try {
        return (await stat(join(root, name))).isFile();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw err;
      }
    },
    async delete(name) {
      await unlink(join(root, checked(name))).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    },
  };
}
