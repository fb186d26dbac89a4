import { BusMessageError } from '../errors.js';
import { messageSchema, type Message, type MessageOf, type MessageType } from './messages.js';

/** Larger messages are refused on both sides; 100,000 workers' weights stay well below it. */
export const MAX_MESSAGE_BYTES = 8 << 20;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Validates and serializes; a message that fails its own schema is a programming error. */
export function encodeMessage(message: Message): Uint8Array {
  const checked = messageSchema.safeParse(message);
  if (!checked.success) throw new BusMessageError('invalid', `refusing to send an invalid ${message.type} message: ${checked.error.issues[0]?.message}`);
  const bytes = encoder.encode(JSON.stringify(checked.data));
  if (bytes.length > MAX_MESSAGE_BYTES) throw new BusMessageError('too-large', `${message.type} message of ${bytes.length} bytes exceeds ${MAX_MESSAGE_BYTES}`);
  return bytes;
}

/** Decodes bytes from the wire into a message of the expected type, or throws BusMessageError. */
export function decodeMessage<T extends MessageType>(bytes: Uint8Array, expected: T): MessageOf<T> {
  if (bytes.length > MAX_MESSAGE_BYTES) throw new BusMessageError('too-large', `${bytes.length} bytes exceed ${MAX_MESSAGE_BYTES}`);
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch (cause) {
    throw new BusMessageError('not-json', 'not UTF-8 JSON', { cause });
  }
  const parsed = messageSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BusMessageError('invalid', `invalid message: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'unknown'}`);
  }
  if (parsed.data.type !== expected) throw new BusMessageError('unexpected-type', `expected ${expected}, got ${parsed.data.type}`);
  return parsed.data as MessageOf<T>;
}
