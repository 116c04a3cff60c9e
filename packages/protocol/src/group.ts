/** A consumer group's name, as `/popmsg?group=` takes it and `MSGQUEUE_GROUPS` lists it. */
export const GROUP_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Groups named `node.<id>` belong to one subscriber node of a cluster (`SUBSCRIBER_NODE_ID`):
 * with `MSGQUEUE_NODE_GROUPS` on, a popper creates one by connecting to it, so every subscriber
 * node gets every message without each being declared.
 */
export const NODE_GROUP_PREFIX = 'node.';

/** Whether `name` is a node group's name: the prefix and at least one more character. */
export function isNodeGroup(name: string): boolean {
  return name.length > NODE_GROUP_PREFIX.length && name.startsWith(NODE_GROUP_PREFIX) && GROUP_NAME_PATTERN.test(name);
}

/** The longest node id that still makes a valid group name. */
export const MAX_NODE_ID_CHARS = 64 - NODE_GROUP_PREFIX.length;
