import { ONE_TOKEN, TAIL_TOKENS, tokensOf } from './pattern.js';

interface PatternNode<V> {
  /** By the pattern's next token: a literal or `*`. */
  readonly next: Map<string, PatternNode<V>>;
  /** The value of the pattern whose tokens end here. */
  end?: V;
  /** The value of the pattern of this node's tokens and a final `>`. */
  tail?: V;
}

const emptyNode = <V>(): PatternNode<V> => ({ next: new Map() });

/**
 * Values keyed by pattern (pattern.ts), found by topic: a lookup walks the topic's tokens down a
 * tree of the patterns' tokens, so it costs the topic's length and the wildcards along its way,
 * not one match per pattern. Ten thousand per-user patterns (`user.<id>.>`) would otherwise be
 * ten thousand matches for every topic not seen before.
 */
export class PatternIndex<V> {
  readonly #root = emptyNode<V>();

  /** True with no pattern in it, nor any part of the tree a deleted one used. */
  get isEmpty(): boolean {
    return this.#root.next.size === 0 && this.#root.end === undefined && this.#root.tail === undefined;
  }

  /** Keeps `value` for `pattern`, a valid pattern (validatePattern), in place of any before. */
  set(pattern: string, value: V): void {
    const tokens = tokensOf(pattern);
    const tail = tokens.at(-1) === TAIL_TOKENS;
    let node = this.#root;
    for (const token of tail ? tokens.slice(0, -1) : tokens) {
      let child = node.next.get(token);
      if (child === undefined) node.next.set(token, (child = emptyNode<V>()));
      node = child;
    }
    if (tail) node.tail = value;
    else node.end = value;
  }

  /** Forgets `pattern`, and the part of the tree only it used; false when it was not there. */
  delete(pattern: string): boolean {
    const tokens = tokensOf(pattern);
    const tail = tokens.at(-1) === TAIL_TOKENS;
    const steps = tail ? tokens.slice(0, -1) : tokens;
    const nodes = [this.#root];
    for (const token of steps) {
      const child = nodes.at(-1)?.next.get(token);
      if (child === undefined) return false;
      nodes.push(child);
    }
    const node = nodes.at(-1) as PatternNode<V>;
    if ((tail ? node.tail : node.end) === undefined) return false;
    if (tail) delete node.tail;
    else delete node.end;
    for (let depth = steps.length; depth > 0; depth--) {
      const child = nodes[depth] as PatternNode<V>;
      if (child.next.size > 0 || child.end !== undefined || child.tail !== undefined) break;
      nodes[depth - 1]?.next.delete(steps[depth - 1] as string);
    }
    return true;
  }

  /** Calls `found` with the value of each pattern that matches the topic of `tokens`, once each. */
  match(tokens: readonly string[], found: (value: V) => void): void {
    const walk = (node: PatternNode<V>, depth: number): void => {
      if (depth === tokens.length) {
        if (node.end !== undefined) found(node.end);
        return;
      }
      // `>` needs at least one token, and there is one left.
      if (node.tail !== undefined) found(node.tail);
      const token = tokens[depth] as string;
      const literal = token === ONE_TOKEN ? undefined : node.next.get(token);
      if (literal !== undefined) walk(literal, depth + 1);
      const any = node.next.get(ONE_TOKEN);
      if (any !== undefined) walk(any, depth + 1);
    };
    walk(this.#root, 0);
  }
}
