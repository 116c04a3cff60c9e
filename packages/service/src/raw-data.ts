import type { RawData } from 'ws';

/**
 * The frame as a Buffer. ws hands out a Buffer for every message while `binaryType` is left at
 * its default, 'nodebuffer' (fragments are joined), which no socket here changes.
 */
export function bufferOf(data: RawData): Buffer {
  return data as Buffer;
}

/** The text of a text frame; ws has already rejected invalid UTF-8 with 1007. */
export function textOf(data: RawData): string {
  return bufferOf(data).toString();
}
