// Which refusals mean something other than their code says. Kling documents no answer for an unknown task id
// nor for a duplicate external_task_id (kling-api.md §13), so both are recognised by code and wording together.
// Messages are free sentences (e.g. "Voice id not found"); api-beijing may answer in Chinese (not observed).
import { KLING_CODES, type KlingApiError } from './errors.js';

const MESSAGE_PREFIX = /^Kling error -?\d+: /;
const NO_MESSAGE = '(no message)';

/** The text of a KlingApiError for a business code; `readKlingMessage` takes Kling's own part back out. */
export function formatKlingError(code: number, message: string): string {
  return `Kling error ${code}: ${message === '' ? NO_MESSAGE : message}`;
}

/** Kling's own `message` inside an error from parseKlingResponse; '' when it sent none. */
export function readKlingMessage(error: KlingApiError): string {
  if (!MESSAGE_PREFIX.test(error.message)) return error.message;
  const message = error.message.replace(MESSAGE_PREFIX, '');
  return message === NO_MESSAGE ? '' : message;
}

/** An answer from Kling's application (it carried a business code) that is not a server-side failure (5xxx). */
function isClientRefusal(error: KlingApiError): error is KlingApiError & { klingCode: number } {
  if (error.klingCode === undefined || (error.klingCode >= 5000 && error.klingCode < 6000)) return false;
  return error.httpStatus === undefined || error.httpStatus < 500;
}

const isUnknownCode = (code: number) => KLING_CODES[code] === undefined;

const NOT_FOUND_WORDS =
  /\bnot\s+(?:be\s+)?found\b|\bnot\s+exists?\b|n['’]t\s+exists?\b|\bno\s+such\b|\bnon-?existent\b|\bunknown\s+task\b|不存在|未找到|找不到|查询不到/i;

/**
 * True when a single-task query (GET by task_id or external_task_id) was refused because Kling does not know
 * the task. Matches 1203 (documented "resource does not exist", HTTP 404) and 1201 (the id is the only
 * parameter such a query has), 1200 or a code missing from Kling's table when the message says "not found" /
 * "does not exist", and a table-less code under HTTP 404. False for everything else, including 5xx and answers
 * without a business code (an HTML 404 from a proxy says nothing about the task). Apply it to single-task
 * reads only: on a create or a list, 1201/1203 mean a bad parameter or an unknown model.
 */
export function isNotFoundAnswer(error: KlingApiError): boolean {
  if (!isClientRefusal(error)) return false;
  const code = error.klingCode;
  if (code === 1203 || code === 1201) return true;
  if (code === 1200) return NOT_FOUND_WORDS.test(readKlingMessage(error));
  if (!isUnknownCode(code)) return false;
  return error.httpStatus === 404 || NOT_FOUND_WORDS.test(readKlingMessage(error));
}

// "already" alone is too broad: a retired model is "already discontinued" (§4.1).
const DUPLICATE_WORDS =
  /\balready\s+(?:been\s+)?(?:exist|used|taken|in\s+use|submitted|created|registered|occupied)|\bduplicat|\brepeat|\bconflict|\bunique\b|\bin\s+use\b|\bbeen\s+used\b|已存在|已经存在|重复|已被使用|已使用/i;
// "exists" counts only when not negated: "model does not exist" is an unknown-model refusal.
const NEGATED_EXIST = /\b(?:not|never|no\s+longer)\s+exists?\b|n['’]t\s+exists?\b|\bnon-?exist\w*/gi;
const EXISTS_WORD = /\bexists?\b/i;
const EXTERNAL_ID = /external[\s_-]*(?:task[\s_-]*)?id|externalTaskId|外部任务/i;
// Complaints about the external id's form rather than its reuse; we always send a well-formed one.
const FORM_WORDS = /\bempty\b|\bblank\b|\btoo\s+long\b|\blength\b|\bformat\b|\bcharacters?\b|\bmust\s+be\s+an?\b|\btype\b|\brequired\b|\bmissing\b/i;

/**
 * True when a create was refused because our external_task_id already exists at Kling, i.e. the task exists
 * and must be adopted (found by external id), not failed. Kling documents no answer for this, so it accepts
 * 1200/1201 or a code missing from Kling's table, under a non-5xx status, whose message says the thing
 * already exists ("already exists/used/submitted", "exists", "duplicate", "repeat", "unique", "conflict", "in use") or names the
 * external id without complaining about its form. False for other refusals ("duration must be ..."),
 * for known codes of other meaning (auth, balance, concurrency, content policy, unknown model 1203) and for
 * 5xx (an ambiguous create is looked up anyway). A false positive costs one lookup by external id, which finds
 * nothing; so callers confirm with that lookup and fall back to the refusal when it misses.
 */
export function isDuplicateExternalIdRefusal(error: KlingApiError): boolean {
  if (!isClientRefusal(error)) return false;
  const code = error.klingCode;
  if (code !== 1200 && code !== 1201 && !isUnknownCode(code)) return false;
  const message = readKlingMessage(error);
  if (DUPLICATE_WORDS.test(message) || EXISTS_WORD.test(message.replace(NEGATED_EXIST, ' '))) return true;
  return EXTERNAL_ID.test(message) && !FORM_WORDS.test(message);
}
