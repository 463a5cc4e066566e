import {readdirSync} from 'node:fs'
import {describe, expect, it} from 'vitest'

import {compileSchema, readSchema} from '../helpers/schemas.js'

const dir = new URL('../../schemas/', import.meta.url)
const files = readdirSync(dir).filter((f) => f.endsWith('.schema.json'))

describe('schemas/', () => {
  it('holds the documented formats', () => {
    for (const name of ['manifest', 'plan', 'saved-plan', 'state', 'apply-events', 'validate', 'status', 'error']) expect(files).toContain(`${name}.schema.json`)
  })

  it.each(files)('%s is a strict, compilable draft 2020-12 schema with an $id and a title', (file) => {
    const name = file.replace(/\.schema\.json$/, '')
    const schema = readSchema(name)
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema')
    expect(typeof schema.$id).toBe('string')
    expect(typeof schema.title).toBe('string')
    expect(() => compileSchema(name)).not.toThrow()
  })
})
