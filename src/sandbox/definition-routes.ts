/**
 * The definition routes: the list, one definition, and its queue (count, and the delete an Inactive definition
 * allows), as docs/marketing-cloud-api.md describes them.
 */
import {randomUUID} from 'node:crypto'

import {parseListQuery, type DefinitionRegistry} from './definitions.js'
import type {MessageStore} from './messages.js'
import {Code, apiError, json, type WireResponse} from './wire.js'

export interface DefinitionRouteContext {
  definitions: DefinitionRegistry
  store: MessageStore
  lenient: boolean
  /** `count` of the list: the page's item count (the live quirk) or the total. */
  listCount: 'page' | 'total'
}

export function answerDefinitionList(ctx: DefinitionRouteContext, query: URLSearchParams): WireResponse {
  const q = parseListQuery(query)
  if (typeof q === 'string') return apiError(400, Code.invalidValue, `MCMS_UTM_Validation_InvalidValue: ${q}`, ctx.lenient)
  return json(200, ctx.definitions.list(q, randomUUID(), ctx.listCount))
}

export function answerDefinition(ctx: DefinitionRouteContext, definitionKey: string): WireResponse {
  const described = ctx.definitions.describe(definitionKey, randomUUID())
  return described ? json(200, described) : definitionNotFound(ctx.lenient)
}

export function answerQueue(ctx: DefinitionRouteContext, definitionKey: string, now: number): WireResponse {
  if (ctx.definitions.state(definitionKey) === 'missing') return definitionNotFound(ctx.lenient)
  const {count, oldestMs} = ctx.store.queue(definitionKey, now)
  return json(200, {requestId: randomUUID(), count, ageSeconds: oldestMs === undefined ? 0 : Math.max(0, Math.floor((now - oldestMs) / 1000))})
}

export function answerQueueDelete(ctx: DefinitionRouteContext, definitionKey: string, now: number): WireResponse {
  const state = ctx.definitions.state(definitionKey)
  if (state === 'missing') return definitionNotFound(ctx.lenient)
  if (state !== 'Inactive') {
    return apiError(400, Code.invalidOperation, 'MCMS_UTM_Runtime_InvalidOperation: Definition status must be inactive to delete queue', ctx.lenient, '')
  }
  ctx.store.clearQueue(definitionKey, now)
  return json(200, {requestId: randomUUID(), message: 'Queued'})
}

function definitionNotFound(lenient: boolean): WireResponse {
  return apiError(404, Code.objectNotFound, "MCMS_UTM_Runtime_ObjectNotFound: Definition key doesn't exist for this MID", lenient, '')
}
