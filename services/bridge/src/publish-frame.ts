/**
 * The publish frame for a bridged payload: a payload that parses as JSON is the content as it
 * is, byte for byte; anything else is sent as a JSON string. The ingress checks the result like
 * any client's frame (topic, id, size, depth).
 */
export function publishFrame(topic: string, id: string | undefined, payload: string): string {
  const idField = id === undefined ? '' : `,"id":${JSON.stringify(id)}`;
  return `{"topic":${JSON.stringify(topic)}${idField},"content":${isJson(payload) ? payload : JSON.stringify(payload)}}`;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
