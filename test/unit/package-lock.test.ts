import {readFileSync} from 'node:fs'

import {describe, expect, it} from 'vitest'

// `npm install` rewrites package-lock.json when its root entry disagrees with package.json, leaving the tree
// modified on a fresh clone (README: the first command must leave the tree clean).
describe('package-lock.json', () => {
  it('records exactly the dependencies and engines package.json declares', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as Record<string, unknown>
    const lock = JSON.parse(readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8')) as {name: string; version: string; packages: Record<string, Record<string, unknown>>}
    const root = lock.packages['']!
    expect([lock.name, lock.version]).toEqual([pkg.name, pkg.version])
    for (const field of ['dependencies', 'devDependencies', 'engines', 'license'] as const) expect(root[field], field).toEqual(pkg[field])
  })
})
