/**
 * Adds the log's seq and epoch to a delivery frame without re-encoding it. They go last, so
 * they win over any same-named member a pusher put in (JSON decoders keep the last duplicate):
 * `{"type":"message",…}` → `{"type":"message",…,"seq":5,"epoch":"…"}`.
 */
export function stampFrame(frame: string, seq: number, epoch: string): string {
  const close = frame.lastIndexOf('}');
  const body = frame.slice(0, close).trimEnd();
  const separator = body.endsWith('{') ? '' : ',';
  return `${body}${separator}"seq":${seq},"epoch":"${epoch}"}`;
}
