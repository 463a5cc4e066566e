import {mkdir, mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import {createRequire} from 'node:module'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import type {ValidateFunction} from 'ajv'
import {describe, expect, it} from 'vitest'
import {parseAllDocuments} from 'yaml'

import {manifestValidators, manifestValidatorsSource, newAjv} from '../../src/manifest/schema.js'

const ROOT = new URL('../../', import.meta.url)

/** What a validator said about a value: valid or not, and each error (its schema and parent schema as JSON). */
function verdict(validate: ValidateFunction, value: unknown): string {
  const valid = validate(value)
  const errors = (validate.errors ?? []).map(({schema, parentSchema, ...e}) => ({...e, schema: JSON.stringify(schema), parentSchema: JSON.stringify(parentSchema)}))
  return JSON.stringify({valid, errors})
}

describe('the manifest validators written as code by the build (Ajv standalone)', () => {
  it('answer every fixture and example exactly as the schema compiled at run time does', async () => {
    // Inside the repository, so the code's require('ajv/…') resolves as it does from dist/.
    await mkdir(new URL('node_modules/.cache/', ROOT), {recursive: true})
    const dir = await mkdtemp(path.join(fileURLToPath(ROOT), 'node_modules', '.cache', 'mcsend-validators-'))
    try {
      const file = path.join(dir, 'manifest-validators.cjs')
      await writeFile(file, manifestValidatorsSource())
      const built = createRequire(import.meta.url)(file) as {manifest: ValidateFunction; recipient: ValidateFunction; schemaSha256: string}
      const schemaText = await readFile(new URL('schemas/manifest.schema.json', ROOT), 'utf8')
      expect(built.schemaSha256).toMatch(/^[0-9a-f]{64}$/)

      // The run-time path: the same schema compiled by a fresh Ajv with the loader's options.
      const compiled = manifestValidators()
      const documents: unknown[] = []
      for (const folder of ['test/fixtures/manifests/valid', 'test/fixtures/manifests/invalid', 'examples']) {
        for (const name of (await readdir(new URL(`${folder}/`, ROOT))).filter((n) => /\.ya?ml$/.test(n))) {
          for (const doc of parseAllDocuments(await readFile(new URL(`${folder}/${name}`, ROOT), 'utf8'))) documents.push(doc.toJS())
        }
      }
      expect(documents.length).toBeGreaterThan(20)
      for (const doc of documents) expect(verdict(built.manifest, doc)).toBe(verdict(compiled.manifest, doc))
      for (const r of [{contactKey: 'a', to: 'a@example.com'}, {contactKey: 'a'}, {contactKey: 1, to: 'x', extra: true}, {contactKey: 'a', to: 'a@example.com', attributes: {A: [1]}}]) {
        expect(verdict(built.recipient, r)).toBe(verdict(compiled.recipient, r))
      }
      expect(JSON.parse(schemaText).$id).toBe('urn:mcsend:schema:manifest:v1')
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })

  it('newAjv gives a working Ajv for JSON Schema 2020-12', () => {
    const validate = newAjv({strict: true}).compile({$schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: {a: {type: 'number'}}, required: ['a']})
    expect(validate({a: 1})).toBe(true)
    expect(validate({})).toBe(false)
  })
})
