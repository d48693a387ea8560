/** Protocol 3.0's version code, the int32 after the length in a StartupMessage. */
const protocol3 = 196_608;
/** SSLRequest and GSSENCRequest: 8-byte messages a client may send before its StartupMessage. */
const encryptionRequests = new Set([80_877_103, 80_877_104]);

/**
 * The parameters (user, database, application_name, …) of the PostgreSQL StartupMessage at the
 * start of `head` — the first bytes a client sent, as ProxyConnection.head holds them — or null
 * if `head` does not start with a complete one. Lets a fault test cut one worker's connections
 * by the application_name it connects with:
 * `proxy.reset((c) => pgStartupParameters(c.head)?.application_name === 'worker-2')`.
 */
export function pgStartupParameters(head: Buffer): Record<string, string> | null {
  let offset = 0;
  if (
    head.length >= 8 &&
    head.readInt32BE(0) === 8 &&
    encryptionRequests.has(head.readInt32BE(4))
  ) {
    offset = 8;
  }
  if (head.length < offset + 8) return null;
  const length = head.readInt32BE(offset);
  if (head.readInt32BE(offset + 4) !== protocol3 || head.length < offset + length) return null;
  const fields = head
    .subarray(offset + 8, offset + length - 1)
    .toString('utf8')
    .split('\0');
  const parameters: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) {
    parameters[fields[i] as string] = fields[i + 1] as string;
  }
  return parameters;
}
