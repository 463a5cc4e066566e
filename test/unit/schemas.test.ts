import {readdirSync, readFileSync} from 'node:fs'
import {Ajv2020} from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import {describe, expect, it} from 'vitest'

const addFormats = ((addFormatsModule as unknown as {default?: typeof addFormatsModule}).default ?? addFormatsModule) as unknown as (ajv: Ajv2020) => void

const dir = new URL('../../schemas/', import.meta.url)
const files = readdirSync(dir).filter((f) => f.endsWith('.schema.json'))

describe('schemas/', () => {
  it('holds the documented formats', () => {
    for (const name of ['manifest', 'plan', 'saved-plan', 'state', 'apply-events', 'validate', 'status', 'error']) expect(files).toContain(`${name}.schema.json`)
  })

  it.each(files)('%s is a strict, compilable draft 2020-12 schema with an $id and a title', (file) => {
    const schema = JSON.parse(readFileSync(new URL(file, dir), 'utf8'))
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema')
    expect(typeof schema.$id).toBe('string')
    expect(typeof schema.title).toBe('string')
    const ajv = new Ajv2020({strict: true, allErrors: true, allowUnionTypes: true})
    addFormats(ajv)
    expect(() => ajv.compile(schema)).not.toThrow()
  })
})
