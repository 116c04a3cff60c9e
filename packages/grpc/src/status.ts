import { status } from '@grpc/grpc-js';
import { grpcStatusOf } from '@pubsub/protocol';

/** The error a call ends with for `code` of the error table: its gRPC status, the message as details. */
export function statusError(code: string, message: string): Error & { code: status; details: string } {
  return Object.assign(new Error(message), { code: status[grpcStatusOf(code)], details: message });
}
