// One id per HTTP request or WebSocket operation, logged with it and echoed in `x-request-id`. A caller's
// (or proxy's) own id is kept when it is short and plain, so one id follows a request across services.
import { randomUUID } from 'node:crypto';

export const REQUEST_ID_HEADER = 'x-request-id';

/** Letters, digits and the punctuation of UUIDs, ULIDs, trace ids and base64; nothing that could forge a log line. */
const SANE_REQUEST_ID = /^[\w.:/+=@-]{1,128}$/;

export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && SANE_REQUEST_ID.test(header) ? header : randomUUID();
}
