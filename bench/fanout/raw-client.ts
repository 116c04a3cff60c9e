/**
 * One sink socket: TLS, a hand-made upgrade with Basic Auth, the dialect's greeting, and from
 * then on only frame headers are looked at and messages counted. Cheap on purpose, so that the
 * server under test, not its clients, is what limits a fan-out.
 */
import type { OnReadOpts } from 'node:net';
import { connect, type ConnectionOptions, type SecureContext, type TLSSocket } from 'node:tls';
import { DIALECTS } from './dialects.js';
import type { Tally } from './tally.js';
import { AUTHORIZATION, type SinkTarget } from './types.js';
import { FrameReader, maskedFrame, OPCODE, upgradeProblem, upgradeRequest } from './ws-frames.js';

const HOST = '127.0.0.1';
/** A connection not subscribed by then has failed (the server gives TLS and headers 10 s each). */
const HANDSHAKE_TIMEOUT_MS = 30_000;
const HEADERS_END = Buffer.from('\r\n\r\n');

export interface RawClientContext {
  readonly secureContext: SecureContext;
  readonly tally: Tally;
  /**
   * Where TLS puts what it decrypted (`onread`), shared by every socket of the process: each
   * chunk is handled before the callback returns, and no Buffer or stream event per chunk.
   */
  readonly readBuffer: Buffer;
}

/** Opens one socket and resolves once it is subscribed (suite) or has joined the room (Socket.IO). */
export function openRawClient(target: SinkTarget, context: RawClientContext): Promise<TLSSocket> {
  const { tally, readBuffer } = context;
  const dialect = DIALECTS[target.system];
  const { request, accept } = upgradeRequest({
    host: `${HOST}:${target.port}`,
    path: dialect.path,
    authorization: AUTHORIZATION,
  });

  return new Promise((resolve, reject) => {
    let ready = false;
    let index = -1;
    let closeCode = 'none';
    const sendText = (text: string) => socket.write(maskedFrame(OPCODE.text, Buffer.from(text)));
    const reader = new FrameReader((frame) => {
      if (frame.opcode === OPCODE.text) {
        const reaction = dialect.classify(frame);
        if (reaction === 'message') {
          if (ready) tally.count(index);
          else tally.other++;
        } else if (reaction === 'ready') {
          if (ready) tally.other++;
          else {
            ready = true;
            index = tally.add();
            socket.setTimeout(0);
            resolve(socket);
          }
        } else if (reaction === 'other') tally.other++;
        else sendText(reaction.reply);
        return;
      }
      const payload = frame.buffer.subarray(frame.start, frame.start + frame.bytes);
      if (frame.opcode === OPCODE.ping) socket.write(maskedFrame(OPCODE.pong, payload));
      else if (frame.opcode === OPCODE.close)
        closeCode = payload.length >= 2 ? String(payload.readUInt16BE(0)) : 'empty';
      else tally.other++;
    });

    const readFrames = (chunk: Buffer, length: number) => {
      const before = tally.messages;
      tally.bytes += length;
      tally.reads++;
      try {
        reader.push(chunk, length);
      } catch (err) {
        socket.destroy(err as Error);
        return;
      }
      if (tally.messages !== before) tally.stamp();
    };

    /** The HTTP response so far, until the upgrade is done. */
    let response: Buffer | undefined = Buffer.alloc(0);
    const onRead = (length: number) => {
      if (response === undefined) {
        readFrames(readBuffer, length);
        return;
      }
      response = Buffer.concat([response, readBuffer.subarray(0, length)]);
      const end = response.indexOf(HEADERS_END);
      if (end < 0) return;
      const problem = upgradeProblem(response.subarray(0, end).toString('latin1'), accept);
      if (problem !== undefined) {
        socket.destroy(new Error(problem));
        return;
      }
      const rest = response.subarray(end + HEADERS_END.length);
      response = undefined;
      for (const text of dialect.greeting) sendText(text);
      if (rest.length > 0) readFrames(rest, rest.length);
    };

    // tls.connect takes `onread` as net.connect does (Node 20 here); @types/node declares it for net only.
    const options: ConnectionOptions & { onread: OnReadOpts } = {
      host: HOST,
      port: target.port,
      secureContext: context.secureContext,
      onread: {
        buffer: readBuffer,
        callback: (length: number) => {
          onRead(length);
          return true;
        },
      },
    };
    const socket = connect(options);
    socket.setTimeout(HANDSHAKE_TIMEOUT_MS, () => socket.destroy(new Error('not subscribed in time')));
    socket.once('secureConnect', () => socket.write(request));
    socket.on('error', (err: Error) => {
      if (!ready) reject(err);
    });
    socket.on('close', () => {
      if (ready) tally.closedWith(closeCode);
      else reject(new Error(`closed before subscribing (close code ${closeCode})`));
    });
  });
}
