/** The image formats an avatar may be, each with its file extension and content type. */
export const IMAGE_FORMATS = {
  jpeg: { ext: 'jpg', contentType: 'image/jpeg' },
  png: { ext: 'png', contentType: 'image/png' },
  webp: { ext: 'webp', contentType: 'image/webp' },
} as const;

export type ImageFormat = keyof typeof IMAGE_FORMATS;

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * The format by magic bytes, or undefined. The file name and the declared content type are the sender's claims
 * (a GIF named .jpg, a script sent as image/png); only the bytes decide.
 */
export function sniffImageFormat(data: Buffer): ImageFormat | undefined {
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'jpeg';
  if (data.length >= 8 && data.subarray(0, 8).equals(PNG_SIGNATURE)) return 'png';
  // RIFF, a 4-byte size, then WEBP.
  if (data.length >= 12 && data.toString('latin1', 0, 4) === 'RIFF' && data.toString('latin1', 8, 12) === 'WEBP')
    return 'webp';
  return undefined;
}

/** `<id>.<ext>` → its format, for a name this server could have issued; anything else (`../x`, `ABC.jpg`, `x.gif`) undefined. */
const STORED_NAME = /^([0-9a-f]{32})\.(jpg|png|webp)$/;

export function parseStoredName(name: string): { id: string; format: ImageFormat } | undefined {
  const match = STORED_NAME.exec(name);
  if (!match) return undefined;
  const format = (Object.keys(IMAGE_FORMATS) as ImageFormat[]).find((f) => IMAGE_FORMATS[f].ext === match[2])!;
  return { id: match[1], format };
}

export const storedName = (id: string, format: ImageFormat) => `${id}.${IMAGE_FORMATS[format].ext}`;
