/**
 * Which route a request is for: the paths and methods of Marketing Cloud's token, userinfo and transactional email
 * routes (docs/marketing-cloud-api.md), the sandbox's own control routes, and the answers for anything else.
 * Pure: a method and a path in, a route out.
 */
import {CONTROL_PREFIX} from './control.js'
import type {RouteFamily} from './faults.js'

const MESSAGES_PREFIX = '/messaging/v1/email/messages'
const DEFINITIONS_PREFIX = '/messaging/v1/email/definitions'

export type Route =
  | {name: 'token'}
  | {name: 'userinfo'}
  | {name: 'control'}
  | {name: 'batch'}
  | {name: 'notSent'}
  | {name: 'single'; key: string}
  | {name: 'status'; key: string}
  | {name: 'definitionList'}
  | {name: 'definition'; key: string}
  | {name: 'queue'; key: string}
  | {name: 'queueDelete'; key: string}
  | {name: 'notAllowed'; allow: string}
  | {name: 'badPath'}
  | {name: 'notFound'}

export function classify(method: string, pathname: string): Route {
  if (pathname === '/v2/token' || pathname === '/v2/token/') return method === 'POST' ? {name: 'token'} : {name: 'notAllowed', allow: 'POST'}
  if (pathname === '/v2/userinfo' || pathname === '/v2/userinfo/') return method === 'GET' ? {name: 'userinfo'} : {name: 'notAllowed', allow: 'GET'}
  if (pathname.startsWith(CONTROL_PREFIX)) return {name: 'control'}
  if (pathname === MESSAGES_PREFIX || pathname === `${MESSAGES_PREFIX}/`) {
    if (method === 'POST') return {name: 'batch'}
    if (method === 'GET') return {name: 'notSent'}
    return {name: 'notAllowed', allow: 'GET, POST'}
  }
  if (pathname.startsWith(`${MESSAGES_PREFIX}/`)) {
    const raw = pathname.slice(MESSAGES_PREFIX.length + 1)
    if (raw.includes('/')) return {name: 'notFound'}
    const key = decode(raw)
    if (key === undefined) return {name: 'badPath'}
    if (method === 'POST') return {name: 'single', key}
    if (method === 'GET') return {name: 'status', key}
    return {name: 'notAllowed', allow: 'GET, POST'}
  }
  if (pathname === DEFINITIONS_PREFIX || pathname === `${DEFINITIONS_PREFIX}/`) {
    return method === 'GET' ? {name: 'definitionList'} : {name: 'notAllowed', allow: 'GET'}
  }
  if (pathname.startsWith(`${DEFINITIONS_PREFIX}/`)) {
    const parts = pathname.slice(DEFINITIONS_PREFIX.length + 1).split('/')
    const key = decode(parts[0] ?? '')
    if (key === undefined) return {name: 'badPath'}
    if (key === '') return {name: 'notFound'}
    if (parts.length === 1 || (parts.length === 2 && parts[1] === '')) return method === 'GET' ? {name: 'definition', key} : {name: 'notAllowed', allow: 'GET'}
    if (parts.length === 2 && parts[1] === 'queue') {
      if (method === 'GET') return {name: 'queue', key}
      if (method === 'DELETE') return {name: 'queueDelete', key}
      return {name: 'notAllowed', allow: 'GET, DELETE'}
    }
  }
  return {name: 'notFound'}
}

/** The family a fault can target, and the counter a request adds to. */
export function familyOf(route: Route): RouteFamily {
  switch (route.name) {
    case 'token':
    case 'userinfo':
      return 'token'
    case 'batch':
    case 'single':
      return 'send'
    case 'status':
    case 'notSent':
      return 'status'
    case 'definitionList':
    case 'definition':
    case 'queue':
    case 'queueDelete':
      return 'definition'
    default:
      return 'other'
  }
}

/** A path segment decoded, or undefined when it is not validly URL-encoded. */
export function decode(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw)
  } catch {
    return undefined
  }
}

/** Request logs must never show an email address, and a messageKey may be one. */
export function redactPath(pathname: string): string {
  if (!pathname.includes('@') && !pathname.includes('%40')) return pathname
  return pathname
    .split('/')
    .map((segment) => (segment.includes('@') || segment.toLowerCase().includes('%40') ? '[redacted]' : segment))
    .join('/')
}
